// SVG elements for the charts and the waterfall (attributes only: the page's CSP allows no inline style).
/* global Node */

const NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes and children (strings become text nodes). */
export function s(tag, attrs, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs ?? {})) if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** A rounded number for labels: 0.123 → "0.12", 12.34 → "12.3", 1234 → "1234". */
export function fmt(n) {
  if (n === null || n === undefined) return '–';
  if (n >= 100) return String(Math.round(n));
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}
