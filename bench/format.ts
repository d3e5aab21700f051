/** Number formatting for the report and the progress log. */
export const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const f1 = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 }) : 'n/a');
export const f2 = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 2, minimumFractionDigits: 2 }) : 'n/a');
export const f3 = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 3, minimumFractionDigits: 3 }) : 'n/a');
/** a ÷ b as "1.5×", n/a when either is not a number. */
export const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${f2(a / b)}×` : 'n/a');
