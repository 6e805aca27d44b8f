// The values a run knows to be secret, and how to take them out of text from the cloud. Pure:
// nothing here prints or masks anything.

const MASK = '***';

/** Python's html.escape (OpenStack services are Python): with and without quotes. */
const htmlEscape = (value: string, quote: boolean) => {
  const text = value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return quote ? text.replace(/"/g, '&quot;').replace(/'/g, '&#x27;') : text;
};
const jsonEscape = (value: string) => JSON.stringify(value).slice(1, -1);
/** json.dumps' default (ensure_ascii): every non-ASCII character as \uXXXX. */
const asciiJsonEscape = (value: string) => jsonEscape(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** The forms a body may quote a value in: as is, JSON-, HTML- or URL-encoded. */
function formsOf(value: string): string[] {
  return [value, jsonEscape(value), asciiJsonEscape(value), htmlEscape(value, true), htmlEscape(value, false), encodeURIComponent(value)];
}

/**
 * The secrets a run knows (the password or application-credential secret, every token Keystone
 * issued): `redact` replaces each, in every form a body may quote it in, by ***. The runner masks
 * only the exact value, so text from the cloud goes through here before it is cleaned up or shown.
 */
export class Secrets {
  #forms: string[] = [];

  add(value: string | undefined): void {
    if (!value) return;
    // Longest first, so a form that contains another is replaced whole.
    this.#forms = [...new Set([...this.#forms, ...formsOf(value)])].sort((a, b) => b.length - a.length);
  }

  readonly redact = (text: string): string => this.#forms.reduce((result, form) => result.replaceAll(form, MASK), text);
}
