// UDP for the DNS server in batches: recvmmsg fills up to BATCH datagrams per system call into one buffer
// the JavaScript side reads in place, and sendmmsg sends the answers of a batch in one call, to the
// addresses the queries came from. node:dgram costs one system call, one callback and one address object
// per datagram each way; at DNS sizes that overhead is most of the work (docs/dns.md, "Performance").
//
// JavaScript contract (src/dns/udp-batch.ts):
//   open(host, port, ipv6, onBatch) -> { handle, rx: Buffer(BATCH*SLOT), lens: Int32Array(BATCH),
//                                        addresses: string[BATCH], port }
//     onBatch(count) is called from the event loop with rx[i*SLOT, i*SLOT+lens[i]) the i-th datagram
//     (lens[i] = -1: longer than SLOT, dropped) and addresses[i] its source address. rx, lens and
//     addresses are overwritten by the next batch: copy what must outlive the call.
//   sendBatch(handle, buffers, slots, count)  buffers[k] goes to the source of datagram slots[k] of the
//     batch being handled (call it during onBatch).
//   saveAddress(handle, slot) -> Buffer        the source of a datagram, kept for a later sendTo
//   sendTo(handle, buffer, savedAddress)
//   close(handle)
// Errors of open throw with code = the errno name (EADDRINUSE, …). Send errors are ignored: UDP.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define SLOT 4096
/** Batches read per readiness event before yielding to the rest of the event loop. */
#define ROUNDS 8
#define SOCKET_BUFFER (4 * 1024 * 1024)

typedef struct {
  int fd;
  int closing;
  /** Freed once both are set: libuv is done with the poll handle, and JavaScript with the external. */
  int poll_closed;
  int finalized;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_batch;
  napi_ref rx_ref;
  napi_ref lens_ref;
  napi_ref addresses_ref;
  napi_async_context context;
  unsigned char *rx;
  int32_t *lens;
  struct sockaddr_storage from[BATCH];
  struct mmsghdr rmsg[BATCH];
  struct iovec riov[BATCH];
  struct mmsghdr smsg[BATCH];
  struct iovec siov[BATCH];
} sock_t;

#define CALL(env, call)                                                        \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error((env), "ERR_SWITCHYARD_UDP", "udp batch: " #call);     \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[160];
  const char *name = strerrorname_np(err);
  snprintf(message, sizeof message, "%s %s: %s", what, name ? name : "E?", strerror(err));
  napi_throw_error(env, name ? name : "EIO", message);
  return NULL;
}

static void on_finalize(napi_env env, void *data, void *hint);

static sock_t *sock_of(napi_env env, napi_value value) {
  sock_t *s = NULL;
  if (napi_get_value_external(env, value, (void **)&s) != napi_ok || s == NULL || s->closing) {
    napi_throw_error(env, "ERR_SWITCHYARD_UDP", "udp batch: closed or not a handle");
    return NULL;
  }
  return s;
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  sock_t *s = poll->data;
  (void)events;
  if (status < 0 || s->closing) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  for (int round = 0; round < ROUNDS && !s->closing; round++) {
    for (int i = 0; i < BATCH; i++) {
      s->rmsg[i].msg_hdr.msg_namelen = sizeof s->from[i];
      s->rmsg[i].msg_hdr.msg_flags = 0;
    }
    int count = recvmmsg(s->fd, s->rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (count <= 0) break;
    napi_handle_scope inner;
    if (napi_open_handle_scope(env, &inner) != napi_ok) break;
    napi_value addresses, callback, global, argv[1], result;
    napi_get_reference_value(env, s->addresses_ref, &addresses);
    for (int i = 0; i < count; i++) {
      s->lens[i] = (s->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)s->rmsg[i].msg_len;
      char text[INET6_ADDRSTRLEN] = "";
      if (s->from[i].ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&s->from[i])->sin6_addr, text, sizeof text);
      else inet_ntop(AF_INET, &((struct sockaddr_in *)&s->from[i])->sin_addr, text, sizeof text);
      napi_value address;
      napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &address);
      napi_set_element(env, addresses, i, address);
    }
    napi_get_reference_value(env, s->on_batch, &callback);
    napi_get_global(env, &global);
    napi_create_int32(env, count, &argv[0]);
    // make_callback: microtasks (a resolver's promises) run after the call, as after any I/O callback
    if (napi_make_callback(env, s->context, global, callback, 1, argv, &result) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
    napi_close_handle_scope(env, inner);
    if (count < BATCH) break;
  }
  napi_close_handle_scope(env, scope);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len;
  int32_t port;
  bool ipv6;
  CALL(env, napi_get_value_string_latin1(env, argv[0], host, sizeof host, &host_len));
  CALL(env, napi_get_value_int32(env, argv[1], &port));
  CALL(env, napi_get_value_bool(env, argv[2], &ipv6));

  struct sockaddr_storage address;
  socklen_t address_len;
  memset(&address, 0, sizeof address);
  if (ipv6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&address;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return throw_errno(env, "udp batch: bad address", EINVAL);
    address_len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&address;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return throw_errno(env, "udp batch: bad address", EINVAL);
    address_len = sizeof *a;
  }
  int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1, size = SOCKET_BUFFER;
  // SO_REUSEPORT: every traffic worker binds the address; the kernel spreads datagrams by source
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (bind(fd, (struct sockaddr *)&address, address_len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &bound_len);
  int bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);

  sock_t *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return throw_errno(env, "udp batch", ENOMEM);
  }
  s->fd = fd;
  s->env = env;
  // rx and lens live in JavaScript-owned memory, referenced until close: no native free to race with JS
  napi_value rx, lens_buffer, lens, addresses, handle, result, name, value;
  void *data;
  CALL(env, napi_create_buffer(env, BATCH * SLOT, &data, &rx));
  s->rx = data;
  CALL(env, napi_create_arraybuffer(env, BATCH * sizeof(int32_t), &data, &lens_buffer));
  s->lens = data;
  CALL(env, napi_create_typedarray(env, napi_int32_array, BATCH, lens_buffer, 0, &lens));
  CALL(env, napi_create_array_with_length(env, BATCH, &addresses));
  CALL(env, napi_create_reference(env, rx, 1, &s->rx_ref));
  CALL(env, napi_create_reference(env, lens, 1, &s->lens_ref));
  CALL(env, napi_create_reference(env, addresses, 1, &s->addresses_ref));
  CALL(env, napi_create_reference(env, argv[3], 1, &s->on_batch));
  CALL(env, napi_create_string_latin1(env, "switchyard:dns:udp", NAPI_AUTO_LENGTH, &name));
  CALL(env, napi_async_init(env, NULL, name, &s->context));
  for (int i = 0; i < BATCH; i++) {
    s->riov[i].iov_base = s->rx + (size_t)i * SLOT;
    s->riov[i].iov_len = SLOT;
    s->rmsg[i].msg_hdr.msg_name = &s->from[i];
    s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
    s->rmsg[i].msg_hdr.msg_iovlen = 1;
  }
  uv_loop_t *loop;
  CALL(env, napi_get_uv_event_loop(env, &loop));
  uv_poll_init(loop, &s->poll, fd);
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);

  CALL(env, napi_create_external(env, s, on_finalize, NULL, &handle));
  CALL(env, napi_create_object(env, &result));
  CALL(env, napi_set_named_property(env, result, "handle", handle));
  CALL(env, napi_set_named_property(env, result, "rx", rx));
  CALL(env, napi_set_named_property(env, result, "lens", lens));
  CALL(env, napi_set_named_property(env, result, "addresses", addresses));
  CALL(env, napi_create_int32(env, bound_port, &value));
  CALL(env, napi_set_named_property(env, result, "port", value));
  CALL(env, napi_create_int32(env, BATCH, &value));
  CALL(env, napi_set_named_property(env, result, "batch", value));
  CALL(env, napi_create_int32(env, SLOT, &value));
  CALL(env, napi_set_named_property(env, result, "slot", value));
  return result;
}

static napi_value js_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = sock_of(env, argv[0]);
  if (s == NULL) return NULL;
  int32_t count, *slots;
  size_t slot_count;
  napi_typedarray_type type;
  CALL(env, napi_get_value_int32(env, argv[3], &count));
  CALL(env, napi_get_typedarray_info(env, argv[2], &type, &slot_count, (void **)&slots, NULL, NULL));
  if (type != napi_int32_array || count < 0 || count > BATCH || (size_t)count > slot_count) {
    napi_throw_range_error(env, "ERR_SWITCHYARD_UDP", "udp batch: bad sendBatch arguments");
    return NULL;
  }
  int ready = 0;
  for (int k = 0; k < count; k++) {
    int slot = slots[k];
    if (slot < 0 || slot >= BATCH) continue;
    napi_value buffer;
    void *data;
    size_t length;
    CALL(env, napi_get_element(env, argv[1], k, &buffer));
    CALL(env, napi_get_buffer_info(env, buffer, &data, &length));
    s->siov[ready].iov_base = data;
    s->siov[ready].iov_len = length;
    memset(&s->smsg[ready].msg_hdr, 0, sizeof s->smsg[ready].msg_hdr);
    s->smsg[ready].msg_hdr.msg_name = &s->from[slot];
    s->smsg[ready].msg_hdr.msg_namelen = s->rmsg[slot].msg_hdr.msg_namelen;
    s->smsg[ready].msg_hdr.msg_iov = &s->siov[ready];
    s->smsg[ready].msg_hdr.msg_iovlen = 1;
    ready++;
  }
  for (int sent = 0; sent < ready;) {
    int result = sendmmsg(s->fd, s->smsg + sent, (unsigned)(ready - sent), MSG_DONTWAIT);
    if (result > 0) sent += result;
    else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break; // a full send buffer drops answers, as UDP may
    else sent++;                                                               // this one failed (e.g. EPERM): skip it
  }
  return NULL;
}

static napi_value js_save_address(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = sock_of(env, argv[0]);
  if (s == NULL) return NULL;
  int32_t slot;
  CALL(env, napi_get_value_int32(env, argv[1], &slot));
  if (slot < 0 || slot >= BATCH) {
    napi_throw_range_error(env, "ERR_SWITCHYARD_UDP", "udp batch: bad slot");
    return NULL;
  }
  CALL(env, napi_create_buffer_copy(env, s->rmsg[slot].msg_hdr.msg_namelen, &s->from[slot], NULL, &result));
  return result;
}

static napi_value js_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = sock_of(env, argv[0]);
  if (s == NULL) return NULL;
  void *data, *address;
  size_t length, address_len;
  CALL(env, napi_get_buffer_info(env, argv[1], &data, &length));
  CALL(env, napi_get_buffer_info(env, argv[2], &address, &address_len));
  if (address_len > sizeof(struct sockaddr_storage)) return NULL;
  sendto(s->fd, data, length, MSG_DONTWAIT, (struct sockaddr *)address, (socklen_t)address_len);
  return NULL;
}

static void on_closed(uv_handle_t *handle) {
  sock_t *s = handle->data;
  s->poll_closed = 1;
  if (s->finalized) free(s);
}

/** The handle's external was collected. While the socket is open the strong references above keep it alive. */
static void on_finalize(napi_env env, void *data, void *hint) {
  sock_t *s = data;
  (void)env;
  (void)hint;
  s->finalized = 1;
  if (s->poll_closed) free(s);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = NULL;
  CALL(env, napi_get_value_external(env, argv[0], (void **)&s));
  if (s == NULL || s->closing) return NULL;
  s->closing = 1;
  napi_delete_reference(env, s->on_batch);
  napi_delete_reference(env, s->rx_ref);
  napi_delete_reference(env, s->lens_ref);
  napi_delete_reference(env, s->addresses_ref);
  napi_async_destroy(env, s->context);
  uv_poll_stop(&s->poll);
  // the socket closes now, not when libuv gets to the handle: a datagram after close() must reach the
  // other sockets of the port (a sibling worker), not wait in one that nobody reads
  close(s->fd);
  s->fd = -1;
  // s stays until the external is collected too (on_finalize): sock_of() on a closed handle is safe
  uv_close((uv_handle_t *)&s->poll, on_closed);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"sendBatch", NULL, js_send_batch, NULL, NULL, NULL, napi_default, NULL},
    {"saveAddress", NULL, js_save_address, NULL, NULL, NULL, napi_default, NULL},
    {"sendTo", NULL, js_send_to, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
