// `expect:` of an http check, "200-399" | "200" | "200,204" | "200-299,304", compiled once into ranges.

export type StatusMatcher = (status: number) => boolean;

export function compileExpect(text: string): StatusMatcher {
  const ranges = text.split(',').map((part) => {
    const [low, high = low] = part.trim().split('-').map(Number);
    return [low, high] as const;
  });
  return (status) => ranges.some(([low, high]) => status >= low && status <= high);
}
