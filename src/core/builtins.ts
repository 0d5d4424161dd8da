// node:http and node:util as the modules' own objects (process.getBuiltinModule), for the code that would
// otherwise `import` them. An ESM import of a built-in builds its namespace from every export, and that
// runs the lazy getters a plain require() leaves alone: for node:http, http.WebSocket / CloseEvent /
// MessageEvent load Node's bundled undici, and with it node:http2, zlib and the web streams — ~12 MB more
// resident memory in every process that imports node:http (14.6 MB against 2.2 MB, measured on Node 24);
// node:util's lazy exports add ~1 MB. `import type` from them costs nothing and stays as it is; the ESLint
// config refuses value imports of the two (no-restricted-imports).
import type * as Http from 'node:http';
import type * as Util from 'node:util';

export const nodeHttp: typeof Http = process.getBuiltinModule('node:http');
export const nodeUtil: typeof Util = process.getBuiltinModule('node:util');
