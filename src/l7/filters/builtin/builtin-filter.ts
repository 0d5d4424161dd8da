// What a built-in filter may declare beyond HttpFilter (internal to the built-ins).
import type { HttpFilter } from '../types.ts';

export interface BuiltinFilter extends HttpFilter {
  /**
   * Its response hook does something only for a request carrying the admin trace token
   * (EdgeRequest.debugTrace): a path runs the built-ins' response phase for the others only when another
   * built-in needs it, so an untraced response pays nothing for it (not even the view or a wrapper).
   */
  readonly tracedOnly?: boolean;
}
