// switchyard_icmp: the two socket operations Node cannot do itself, for `switchyard ping` and `traceroute`.
//
//   echo(options)     one ICMP echo request/reply (ICMPv4 or ICMPv6). Tries an unprivileged ICMP datagram
//                     socket first (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), allowed by
//                     net.ipv4.ping_group_range), then a raw socket (needs CAP_NET_RAW).
//   udpProbe(options) one UDP datagram to a high port with the IP TTL set; the answer (ICMP time exceeded
//                     from a router, port unreachable from the destination) is read from the socket's error
//                     queue (IP_RECVERR), which needs no privilege at all.
//
// Each call runs on the libuv thread pool (blocking poll() with a deadline, one socket per call) and
// resolves a Promise; the round-trip time is measured on that thread around sendto()/recvmsg(), so the
// pool's queueing delay never counts. Results are plain objects; failures are reported as
// { status: "error", errno, syscall } so the TypeScript side can word them.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <node_api.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef enum { OP_ECHO, OP_UDP } op_kind;

typedef struct {
  op_kind op;
  // inputs
  int family;
  char address[INET6_ADDRSTRLEN];
  int port;
  int sequence;
  int identifier;
  int timeout_ms;
  int size;
  int ttl;
  // outputs
  const char *status;  // reply | timeout | time_exceeded | unreachable | error
  const char *mode;    // dgram | raw | udp
  char from[INET6_ADDRSTRLEN];
  double rtt_ms;
  int reply_ttl;
  int bytes;
  int icmp_type;
  int icmp_code;
  int err;
  const char *syscall;
  napi_async_work work;
  napi_deferred deferred;
} request;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fail(request *req, const char *syscall) {
  req->status = "error";
  req->err = errno;
  req->syscall = syscall;
}

static uint16_t checksum(const uint8_t *data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += (uint32_t)(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static int make_dest(request *req, struct sockaddr_storage *dest, socklen_t *len, int port) {
  memset(dest, 0, sizeof(*dest));
  if (req->family == 6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)dest;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*sin6);
    return inet_pton(AF_INET6, req->address, &sin6->sin6_addr) == 1 ? 0 : -1;
  }
  struct sockaddr_in *sin = (struct sockaddr_in *)dest;
  sin->sin_family = AF_INET;
  sin->sin_port = htons((uint16_t)port);
  *len = sizeof(*sin);
  return inet_pton(AF_INET, req->address, &sin->sin_addr) == 1 ? 0 : -1;
}

static void name_of(const struct sockaddr *addr, char *out) {
  if (addr->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, out, INET6_ADDRSTRLEN);
  else
    inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, out, INET6_ADDRSTRLEN);
}

static void set_ttl(request *req, int fd) {
  if (req->ttl <= 0) return;
  if (req->family == 6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &req->ttl, sizeof(req->ttl));
  else
    setsockopt(fd, IPPROTO_IP, IP_TTL, &req->ttl, sizeof(req->ttl));
}

static void enable_recverr(request *req, int fd) {
  int on = 1;
  if (req->family == 6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
  else
    setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
}

// Reads one ICMP error from the error queue (IP_RECVERR): the router or host that sent it and its type.
// Returns 1 when an ICMP error was read, 0 when the queue held something else, -1 on failure.
static int read_error_queue(request *req, int fd) {
  uint8_t data[512], control[512];
  struct sockaddr_storage peer;
  struct iovec iov = {data, sizeof(data)};
  struct msghdr msg = {0};
  msg.msg_name = &peer;
  msg.msg_namelen = sizeof(peer);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (recvmsg(fd, &msg, MSG_ERRQUEUE) < 0) return -1;
  double at = now_ms();
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    int v4 = cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR;
    int v6 = cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR;
    if (!v4 && !v6) continue;
    struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(cm);
    if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6) {
      errno = (int)ee->ee_errno;
      fail(req, "recvmsg");
      return 1;
    }
    name_of(SO_EE_OFFENDER(ee), req->from);
    req->icmp_type = ee->ee_type;
    req->icmp_code = ee->ee_code;
    int exceeded = ee->ee_origin == SO_EE_ORIGIN_ICMP ? ee->ee_type == ICMP_TIME_EXCEEDED : ee->ee_type == ICMP6_TIME_EXCEEDED;
    req->status = exceeded ? "time_exceeded" : "unreachable";
    req->rtt_ms = at;
    return 1;
  }
  return 0;
}

static int reply_ttl_of(struct msghdr *msg) {
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
    if ((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL) ||
        (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_HOPLIMIT)) {
      int value;
      memcpy(&value, CMSG_DATA(cm), sizeof(value));
      return value;
    }
  }
  return -1;
}

// Matches one received packet against our echo; returns 1 when it settled the request.
static int match_echo(request *req, int raw, uint8_t *buf, ssize_t n, struct msghdr *msg, const struct sockaddr *peer) {
  uint8_t *icmp = buf;
  int v6 = req->family == 6;
  if (raw && !v6) {  // raw IPv4 sockets hand us the IP header too
    if (n < 20) return 0;
    int ihl = (buf[0] & 0x0f) * 4;
    if (n < ihl + 8) return 0;
    req->reply_ttl = buf[8];
    icmp = buf + ihl;
    n -= ihl;
  } else {
    req->reply_ttl = reply_ttl_of(msg);
  }
  if (n < 8) return 0;
  int type = icmp[0];
  int id = icmp[4] << 8 | icmp[5];
  int seq = icmp[6] << 8 | icmp[7];
  int echo_reply = v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY;
  if (type == echo_reply) {
    // datagram sockets: the kernel rewrote the identifier and delivers only our socket's replies
    if (seq != req->sequence || (raw && id != req->identifier)) return 0;
    req->status = "reply";
    req->bytes = (int)n;
  } else if (raw) {
    // an ICMP error quoting our echo request: IP header (v4: variable, v6: 40 bytes) then the echo header
    int unreach = v6 ? ICMP6_DST_UNREACH : ICMP_DEST_UNREACH;
    int exceeded = v6 ? ICMP6_TIME_EXCEEDED : ICMP_TIME_EXCEEDED;
    if (type != unreach && type != exceeded) return 0;
    uint8_t *inner = icmp + 8;
    ssize_t left = n - 8;
    int inner_len = v6 ? 40 : (left > 0 ? (inner[0] & 0x0f) * 4 : 0);
    if (left < inner_len + 8) return 0;
    uint8_t *quoted = inner + inner_len;
    if ((quoted[4] << 8 | quoted[5]) != req->identifier || (quoted[6] << 8 | quoted[7]) != req->sequence) return 0;
    req->status = type == exceeded ? "time_exceeded" : "unreachable";
  } else {
    return 0;
  }
  req->icmp_type = type;
  req->icmp_code = icmp[1];
  name_of(peer, req->from);
  return 1;
}

static void run_echo(request *req) {
  int domain = req->family == 6 ? AF_INET6 : AF_INET;
  int proto = req->family == 6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
  int raw = 0;
  int fd = socket(domain, SOCK_DGRAM | SOCK_CLOEXEC, proto);
  if (fd < 0 && (errno == EACCES || errno == EPERM)) {
    raw = 1;
    fd = socket(domain, SOCK_RAW | SOCK_CLOEXEC, proto);
  }
  req->mode = raw ? "raw" : "dgram";
  if (fd < 0) return fail(req, "socket");
  int on = 1;
  if (req->family == 6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on));
  else
    setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
  if (!raw) enable_recverr(req, fd);
  set_ttl(req, fd);

  struct sockaddr_storage dest;
  socklen_t dest_len;
  if (make_dest(req, &dest, &dest_len, 0) < 0) {
    errno = EINVAL;
    fail(req, "inet_pton");
    close(fd);
    return;
  }
  size_t len = 8 + (size_t)req->size;
  uint8_t *packet = calloc(1, len);
  packet[0] = req->family == 6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
  packet[4] = (uint8_t)(req->identifier >> 8);
  packet[5] = (uint8_t)req->identifier;
  packet[6] = (uint8_t)(req->sequence >> 8);
  packet[7] = (uint8_t)req->sequence;
  for (size_t i = 8; i < len; i++) packet[i] = (uint8_t)(0x10 + i);
  if (req->family != 6) {  // ICMPv6 checksums need the pseudo-header: the kernel fills them in
    uint16_t sum = checksum(packet, len);
    packet[2] = (uint8_t)(sum >> 8);
    packet[3] = (uint8_t)sum;
  }
  double start = now_ms();
  ssize_t sent = sendto(fd, packet, len, 0, (struct sockaddr *)&dest, dest_len);
  free(packet);
  if (sent < 0) {
    fail(req, "sendto");
    close(fd);
    return;
  }
  double deadline = start + req->timeout_ms;
  req->status = "timeout";
  for (;;) {
    double left = deadline - now_ms();
    if (left <= 0) break;
    struct pollfd pfd = {fd, POLLIN, 0};
    int ready = poll(&pfd, 1, (int)left + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    if (pfd.revents & POLLERR) {
      int got = read_error_queue(req, fd);
      if (got != 0) {
        if (got > 0 && strcmp(req->status, "error") != 0) req->rtt_ms -= start;
        break;
      }
      continue;
    }
    uint8_t buf[65536], control[256];
    struct sockaddr_storage peer;
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr msg = {0};
    msg.msg_name = &peer;
    msg.msg_namelen = sizeof(peer);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    double at = now_ms();
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      fail(req, "recvmsg");
      break;
    }
    if (match_echo(req, raw, buf, n, &msg, (struct sockaddr *)&peer)) {
      req->rtt_ms = at - start;
      break;
    }
  }
  close(fd);
}

static void run_udp(request *req) {
  req->mode = "udp";
  int fd = socket(req->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(req, "socket");
  enable_recverr(req, fd);
  set_ttl(req, fd);
  struct sockaddr_storage dest;
  socklen_t dest_len;
  if (make_dest(req, &dest, &dest_len, req->port) < 0) {
    errno = EINVAL;
    fail(req, "inet_pton");
    close(fd);
    return;
  }
  if (connect(fd, (struct sockaddr *)&dest, dest_len) < 0) {
    fail(req, "connect");
    close(fd);
    return;
  }
  uint8_t payload[32];
  memset(payload, 0x40, sizeof(payload));
  double start = now_ms();
  if (send(fd, payload, sizeof(payload), 0) < 0) {
    fail(req, "send");
    close(fd);
    return;
  }
  double deadline = start + req->timeout_ms;
  req->status = "timeout";
  for (;;) {
    double left = deadline - now_ms();
    if (left <= 0) break;
    struct pollfd pfd = {fd, POLLIN, 0};
    int ready = poll(&pfd, 1, (int)left + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    if (pfd.revents & POLLERR) {
      int got = read_error_queue(req, fd);
      if (got > 0 && strcmp(req->status, "error") != 0) req->rtt_ms -= start;
      if (got != 0) break;
      continue;
    }
    uint8_t buf[2048];
    if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0) {  // a UDP service answered: destination reached
      req->rtt_ms = now_ms() - start;
      req->status = "reply";
      strcpy(req->from, req->address);
      break;
    }
  }
  close(fd);
}

static void execute(napi_env env, void *data) {
  (void)env;
  request *req = data;
  if (req->op == OP_ECHO)
    run_echo(req);
  else
    run_udp(req);
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

static void complete(napi_env env, napi_status status, void *data) {
  (void)status;
  request *req = data;
  napi_value result;
  napi_create_object(env, &result);
  set_string(env, result, "status", req->status ? req->status : "error");
  set_string(env, result, "mode", req->mode ? req->mode : "");
  set_string(env, result, "from", req->from);
  set_number(env, result, "rttMs", req->rtt_ms);
  set_number(env, result, "ttl", req->reply_ttl);
  set_number(env, result, "bytes", req->bytes);
  set_number(env, result, "icmpType", req->icmp_type);
  set_number(env, result, "icmpCode", req->icmp_code);
  set_number(env, result, "errno", req->err);
  set_string(env, result, "syscall", req->syscall ? req->syscall : "");
  napi_resolve_deferred(env, req->deferred, result);
  napi_delete_async_work(env, req->work);
  free(req);
}

static int get_int(napi_env env, napi_value obj, const char *key, int fallback) {
  napi_value v;
  bool has = false;
  napi_has_named_property(env, obj, key, &has);
  if (!has || napi_get_named_property(env, obj, key, &v) != napi_ok) return fallback;
  int32_t out;
  return napi_get_value_int32(env, v, &out) == napi_ok ? out : fallback;
}

static napi_value start(napi_env env, napi_callback_info info, op_kind op) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "options object required");
    return NULL;
  }
  request *req = calloc(1, sizeof(request));
  req->op = op;
  napi_value address;
  size_t copied = 0;
  if (napi_get_named_property(env, argv[0], "address", &address) != napi_ok ||
      napi_get_value_string_utf8(env, address, req->address, sizeof(req->address), &copied) != napi_ok) {
    free(req);
    napi_throw_type_error(env, NULL, "options.address must be an IP address string");
    return NULL;
  }
  req->family = get_int(env, argv[0], "family", 4);
  req->port = get_int(env, argv[0], "port", 33434);
  req->sequence = get_int(env, argv[0], "sequence", 1) & 0xffff;
  req->identifier = get_int(env, argv[0], "identifier", getpid()) & 0xffff;
  req->timeout_ms = get_int(env, argv[0], "timeoutMs", 1000);
  req->size = get_int(env, argv[0], "size", 56);
  if (req->size < 0 || req->size > 65000) req->size = 56;
  req->ttl = get_int(env, argv[0], "ttl", 0);
  req->reply_ttl = -1;
  napi_value promise, name;
  napi_create_promise(env, &req->deferred, &promise);
  napi_create_string_utf8(env, op == OP_ECHO ? "switchyard:icmp-echo" : "switchyard:udp-probe", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, req, &req->work);
  napi_queue_async_work(env, req->work);
  return promise;
}

static napi_value echo(napi_env env, napi_callback_info info) { return start(env, info, OP_ECHO); }
static napi_value udp_probe(napi_env env, napi_callback_info info) { return start(env, info, OP_UDP); }

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"echo", NULL, echo, NULL, NULL, NULL, napi_default, NULL},
      {"udpProbe", NULL, udp_probe, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
