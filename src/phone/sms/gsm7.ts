/** The GSM 03.38 default alphabet (one septet each). */
const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
/** Its extension table: each character is an escape plus one septet, two in all. */
const GSM7_EXTENSION = new Set('^{}\\[~]|€\f');

/** Whether the text can travel as GSM-7; otherwise a provider must be told to send it as Unicode (UCS-2). */
export function isGsm7(text: string): boolean {
  return gsm7Length(text) !== undefined;
}

/** Septets the text takes in GSM-7 (extension characters count two), or undefined when it needs UCS-2. */
export function gsm7Length(text: string): number | undefined {
  let length = 0;
  for (const char of text) {
    if (GSM7_BASIC.has(char)) length += 1;
    else if (GSM7_EXTENSION.has(char)) length += 2;
    else return undefined;
  }
  return length;
}

/** What one text takes of a single SMS segment: 160 septets in GSM-7, 70 UTF-16 code units in UCS-2. */
export interface SegmentUse {
  encoding: 'GSM-7' | 'UCS-2';
  length: number;
  limit: 160 | 70;
}

export function segmentUse(text: string): SegmentUse {
  const septets = gsm7Length(text);
  // UCS-2 counts UTF-16 code units: a character outside the BMP (an emoji) takes two
  return septets !== undefined
    ? { encoding: 'GSM-7', length: septets, limit: 160 }
    : { encoding: 'UCS-2', length: text.length, limit: 70 };
}

export function fitsOneSegment(text: string): boolean {
  const use = segmentUse(text);
  return use.length <= use.limit;
}
