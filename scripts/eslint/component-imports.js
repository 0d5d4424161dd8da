// ESLint rule `switchyard/component-imports`: production code of one component (a folder under src/) imports
// another component only through that component's public entry, src/<other>/index.ts (docs/DEVELOPING.md,
// Layout). Within a component any file may import any other; tests (*.test.ts) may reach inside.
import path from 'node:path';

/** The component a path under `srcRoot` belongs to, or undefined when it is outside src/. */
function componentOf(srcRoot, file) {
  const relative = path.relative(srcRoot, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  const [first] = relative.split(path.sep);
  return first;
}

export function componentImportsRule(srcRoot) {
  return {
    meta: {
      type: 'problem',
      docs: { description: 'components import each other only through their index.ts' },
      schema: [],
      messages: { deep: "import {{other}} through ../{{other}}/index.ts, not {{source}} (components import each other only through their index.ts)" },
    },
    create(context) {
      const file = context.filename;
      const own = componentOf(srcRoot, file);
      if (own === undefined || file.endsWith('.test.ts')) return {};
      const check = (node) => {
        const source = node.source && node.source.value;
        if (typeof source !== 'string' || !source.startsWith('.')) return;
        const target = path.resolve(path.dirname(file), source);
        const other = componentOf(srcRoot, target);
        if (other === undefined || other === own) return;
        if (target === path.join(srcRoot, other, 'index.ts')) return;
        context.report({ node: node.source, messageId: 'deep', data: { other, source } });
      };
      return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
    },
  };
}
