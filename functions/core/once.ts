/**
 * A value built at its first use, then kept: the zod schemas, so that a function's start
 * builds none of those it may never use (building one costs more than importing zod).
 */
export const once = <T>(build: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= build());
};
