/**
 * The flat XML dialect WeChat Pay v2 speaks: `<xml><key><![CDATA[value]]></key>…</xml>`, one level deep.
 */
export function toFlatXml(fields: Record<string, string | number | null | undefined>): string {
  const parts = Object.entries(fields)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid XML field name ${k}`);
      const text = String(v);
      if (typeof v === "number") return `<${k}>${text}</${k}>`;
      // "]]>" cannot appear inside CDATA: split it across two sections.
      return `<${k}><![CDATA[${text.replaceAll("]]>", "]]]]><![CDATA[>")}]]></${k}>`;
    });
  return `<xml>${parts.join("")}</xml>`;
}

const OPEN_TAG = /<([A-Za-z_][A-Za-z0-9_]*)>/y;
const CDATA_OPEN = "<![CDATA[";
const CDATA_CLOSE = "]]>";

function unescapeText(s: string): string {
  return s.replace(
    /&(lt|gt|amp|quot|apos);/g,
    (_, e: string) => ({ lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" })[e] ?? "",
  );
}

/**
 * Parses the flat dialect; null when the document is not one. A scan, not a regular expression over the
 * fields: this reads unauthenticated callbacks, and a pattern whose CDATA sections could swallow one another
 * made 2^N attempts on a run of N sections without a closing tag (a 500-byte body held the event loop for minutes).
 */
export function parseFlatXml(xml: string): Record<string, string> | null {
  const body = /^\s*<xml>([\s\S]*)<\/xml>\s*$/.exec(xml)?.[1];
  if (body === undefined) return null;
  const out: Record<string, string> = {};
  let at = 0;
  for (;;) {
    while (at < body.length && /\s/.test(body[at]!)) at++;
    if (at === body.length) return out;
    // Anything other than fields and whitespace (nested elements, junk) is not the dialect.
    OPEN_TAG.lastIndex = at;
    const open = OPEN_TAG.exec(body);
    if (!open) return null;
    const name = open[1]!;
    at = OPEN_TAG.lastIndex;
    let value = "";
    if (body.startsWith(CDATA_OPEN, at)) {
      // One or more sections, each ending at its first "]]>" (toFlatXml splits a value's own "]]>" across two).
      while (body.startsWith(CDATA_OPEN, at)) {
        const close = body.indexOf(CDATA_CLOSE, at + CDATA_OPEN.length);
        if (close === -1) return null;
        value += body.slice(at + CDATA_OPEN.length, close);
        at = close + CDATA_CLOSE.length;
      }
    } else {
      const next = body.indexOf("<", at);
      if (next === -1) return null;
      value = unescapeText(body.slice(at, next));
      at = next;
    }
    const closing = `</${name}>`;
    if (!body.startsWith(closing, at)) return null;
    at += closing.length;
    out[name] = value;
  }
}
