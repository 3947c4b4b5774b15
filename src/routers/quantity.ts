/**
 * Kubernetes resource quantities ("500m", "1", "1k", "0.5", "2Ki", "1e3"), which TrafficSplit v1alpha1
 * weights may hold because the field is int-or-string. serin never writes them, but reads what others
 * (linkerd-smi users, older tools) wrote.
 */

const BINARY_SI: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const DECIMAL_SI: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

// The grammar of k8s.io/apimachinery/pkg/api/resource: a signed decimal, then a binary or decimal SI
// suffix or a decimal exponent ("1E3" is an exponent, "1E" is exa).
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

const QUANTITY_EXAMPLES = '"500m", "1", "1k", "0.5", "2Ki"';

export function parseQuantity(text: string): number {
  const match = QUANTITY.exec(text);
  const mantissa = match?.[1];
  if (!match || mantissa === undefined) {
    throw new SyntaxError(
      `${JSON.stringify(text)} is not a Kubernetes quantity (such as ${QUANTITY_EXAMPLES})`,
    );
  }
  const [, , exponent, suffix = ""] = match;
  const scale =
    exponent !== undefined ? 10 ** Number(exponent) : (BINARY_SI[suffix] ?? DECIMAL_SI[suffix] ?? 1);
  // Decimal scales divide rather than multiply by a fraction, so "500m" is exactly 0.5.
  const value = scale < 1 ? Number(mantissa) / Math.round(1 / scale) : Number(mantissa) * scale;
  if (!Number.isFinite(value)) throw new RangeError(`${JSON.stringify(text)} is too large a quantity`);
  return value;
}

/** An int-or-string weight as stored: a number as it is, a string as a quantity. */
export function quantityValue(value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") return parseQuantity(value);
  throw new TypeError(`${JSON.stringify(value)} is neither a number nor a quantity string`);
}
