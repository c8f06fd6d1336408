/** Names Windows reserves for devices, with or without an extension (CON, con.txt, COM1.nii.gz). */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\.|$)/i;

/**
 * One safe path component from text Quorum did not choose (a DICOM PatientName, a case name, a
 * requested file stem): no separators, no `.`/`..`, no control characters, none of
 * `<>:"/\|?*`, no leading dots (hidden files) or trailing dots and spaces (Windows drops them),
 * not a reserved Windows device name, at most `max` characters. Never empty (`fallback`).
 */
export function safeFileName(text: string, fallback = 'case', max = 120): string {
  let s = String(text ?? '')
    .normalize('NFC')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
    .replace(/[<>:"/\\|?*]/g, '_')
    .replace(/\.{2,}/g, '_')
    .replace(/_{2,}/g, '_')
    .replace(/^[\s.]+|[\s.]+$/g, '')
    .replace(/\s+/g, ' ');
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`;
  s = s.slice(0, max).replace(/[\s.]+$/, '');
  return /^[_\s]*$/.test(s) ? fallback : s;
}
