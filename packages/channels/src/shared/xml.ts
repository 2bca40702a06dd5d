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

const FIELD = /<([A-Za-z_][A-Za-z0-9_]*)>((?:<!\[CDATA\[[\s\S]*?\]\]>)+|[^<]*)<\/\1>/g;

function unescapeText(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) => ({ lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" })[e] ?? "");
}

/** Parses the flat dialect; null when the document is not one. */
export function parseFlatXml(xml: string): Record<string, string> | null {
  const body = /^\s*<xml>([\s\S]*)<\/xml>\s*$/.exec(xml)?.[1];
  if (body === undefined) return null;
  // Anything other than fields and whitespace (nested elements, junk) is not the dialect.
  if (body.replace(FIELD, "").trim() !== "") return null;
  const out: Record<string, string> = {};
  for (const m of body.matchAll(FIELD)) {
    const raw = m[2] ?? "";
    out[m[1]!] = raw.startsWith("<![CDATA[") ? [...raw.matchAll(/<!\[CDATA\[([\s\S]*?)\]\]>/g)].map((x) => x[1]).join("") : unescapeText(raw);
  }
  return out;
}
