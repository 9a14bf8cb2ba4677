// The one road from TypeScript to libtorch's operators: aten ops by schema name.
import { native, type NativeTensor } from './native.js';

const ids = new Map<string, number>();

function opId(name: string, overload: string): number {
  const key = `${name}.${overload}`;
  let id = ids.get(key);
  if (id === undefined) {
    id = native.opHandle(name.includes('::') ? name : `aten::${name}`, overload);
    ids.set(key, id);
  }
  return id;
}

/** Arguments as the operator's schema lists them; `undefined` takes the schema default. */
export type OpArg = NativeTensor | NativeTensor[] | (NativeTensor | null)[] | number | number[] | boolean | boolean[] | string | null | undefined;

/** Calls aten::<name>.<overload> and returns what it returns (handles are raw, not yet Tensors). */
export function callRaw(name: string, overload: string, args: OpArg[]): unknown {
  return native.callOp(opId(name, overload), args);
}

/** Calls an operator whose result is not needed (in-place updates). */
export function callVoid(name: string, overload: string, args: OpArg[]): void {
  native.callOpVoid(opId(name, overload), args);
}

/** Whether the dispatcher knows the operator (e.g. one the addon registers only in some builds). */
export function hasOperator(name: string, overload = ''): boolean {
  try {
    opId(name, overload);
    return true;
  } catch {
    return false;
  }
}

/** The schema string of an operator, e.g. for error messages and docs. */
export function schemaOf(name: string, overload = ''): string {
  return native.opSchema(opId(name, overload));
}
