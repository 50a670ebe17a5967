// erf to double precision for the CPU references (float64 gradcheck compares against it, so an f32-grade
// approximation would show up as gradient error). Series for |x| < 3, continued fraction for erfc beyond.
export function erf(x: number): number {
  const z = Math.abs(x);
  let r: number;
  if (z < 3) {
    // erf(z) = 2/sqrt(pi) * sum_n (-1)^n z^(2n+1) / (n! (2n+1))
    let term = z;
    let sum = z;
    const z2 = z * z;
    for (let n = 1; n < 200; n++) {
      term *= -z2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + 1/2/(z + 1/(z + 3/2/(z + ...)))) (Lentz-free backward evaluation)
    let f = z;
    for (let n = 60; n >= 1; n--) f = z + (n / 2) / f;
    r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}
