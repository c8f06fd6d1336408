/** Browser stand-in for Node's `url` (used by @oozcitak/url, which the viewer never reaches). */
export const domainToASCII = (d: string): string => d;
export const domainToUnicode = (d: string): string => d;
export default { domainToASCII, domainToUnicode };
