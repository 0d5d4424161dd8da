// A small router: method + path pattern → handler. Patterns are compiled once when routes are added;
// `:id` matches a positive integer (anything else is simply not found).
import type { Reply, RequestContext } from './context.ts';

export type Handler = (ctx: RequestContext) => Promise<Reply>;

export interface RouteDefinition {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  handler: Handler;
}

interface CompiledRoute extends RouteDefinition {
  regex: RegExp;
  names: string[];
}

export type RouteMatch =
  | { kind: 'found'; handler: Handler; params: Record<string, string> }
  | { kind: 'method_not_allowed'; allow: string[] }
  | { kind: 'not_found' };

export class Router {
  readonly #routes: CompiledRoute[] = [];

  add(routes: readonly RouteDefinition[]): this {
    for (const route of routes) {
      const names: string[] = [];
      const source = route.path.replace(/:(\w+)/g, (_, name: string) => {
        names.push(name);
        return '([1-9][0-9]{0,9})';
      });
      this.#routes.push({ ...route, regex: new RegExp(`^${source}$`), names });
    }
    return this;
  }

  /** HEAD is answered by the GET handler (node:http drops the body). */
  match(method: string, path: string): RouteMatch {
    const wanted = method === 'HEAD' ? 'GET' : method;
    const allow: string[] = [];
    for (const route of this.#routes) {
      const found = route.regex.exec(path);
      if (!found) continue;
      if (route.method !== wanted) {
        allow.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, index) => (params[name] = found[index + 1]));
      return { kind: 'found', handler: route.handler, params };
    }
    return allow.length > 0 ? { kind: 'method_not_allowed', allow } : { kind: 'not_found' };
  }
}
