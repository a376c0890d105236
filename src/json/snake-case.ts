// JSON keys are snake_case (design.md). Some objects started life as the library's
// camelCase types (doctor's HostSnapshot, serve's WorkerView, the tuple plan) and went
// out as they were. This turns them into snake_case at the JSON edge, and for one release
// keeps each old camelCase key beside its new name, so a script written against 0.1
// keeps working while it moves (the aliases are listed as deprecated in docs/).

/** `kernelBytesPerSocket` → `kernel_bytes_per_socket`; other keys unchanged. */
export function snakeCase(key: string): string {
  // Only lowerCamel identifiers are ours to rename: `TCP`, `TcpExt`, `ListenOverflows`
  // are the kernel's own names for its caches and counters and stay as the kernel spells them.
  if (!/^[a-z][a-zA-Z0-9]*$/.test(key)) return key;
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export interface SnakeCaseOptions {
  /** Also keep every renamed key under its old camelCase name (deprecated aliases). */
  keepCamelCase?: boolean;
}

/** A deep copy of `value` with snake_case keys (see `snakeCase`). */
export function snakeCaseKeys(value: unknown, options: SnakeCaseOptions = {}): unknown {
  if (Array.isArray(value)) return value.map((item) => snakeCaseKeys(item, options));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  const renamed: [string, unknown][] = [];
  for (const [key, child] of Object.entries(value)) {
    const converted = snakeCaseKeys(child, options);
    const name = snakeCase(key);
    out[name] = converted;
    if (options.keepCamelCase && name !== key) renamed.push([key, converted]);
  }
  // The aliases come after the new names, so a reader sees the current key first.
  for (const [key, child] of renamed) if (!(key in out)) out[key] = child;
  return out;
}

/** The camelCase keys, in `value` and below, that `snakeCaseKeys` would rename. */
export function camelCaseKeys(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => camelCaseKeys(item, `${path}[]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => [
    ...(snakeCase(key) !== key ? [`${path}.${key}`] : []),
    ...camelCaseKeys(child, `${path}.${key}`),
  ]);
}
