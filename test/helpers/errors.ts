// The code a thrown error carries, or undefined when nothing was thrown: tests assert
// stable codes, never message text.

export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}
