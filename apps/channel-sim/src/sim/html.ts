/** Minimal, dependency-free HTML for the payer-facing pages (bank, UnionPay, PayPal checkout). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);
}

export type PayerPage = {
  title: string;
  brand: string;
  color: string;
  rows: [string, string][];
  /** Shown when the payer can act: one form, one submit button per action. */
  form: { action: string; buttons: { value: string; label: string }[] } | null;
  note?: string;
};

export function renderPayerPage(p: PayerPage): string {
  const rows = p.rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("");
  const form = p.form
    ? `<form method="post" action="${escapeHtml(p.form.action)}">${p.form.buttons
        .map(
          (b) => `<button type="submit" name="action" value="${escapeHtml(b.value)}">${escapeHtml(b.label)}</button>`,
        )
        .join(" ")}</form>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
header{background:${escapeHtml(p.color)};color:#fff;padding:1rem;border-radius:.5rem .5rem 0 0;font-weight:600}
table{width:100%;border-collapse:collapse;margin:1rem 0}th{text-align:left;color:#555;padding:.3rem 0;width:40%}
button{font-size:1rem;padding:.6rem 1.4rem;margin-right:.5rem;cursor:pointer}.note{color:#777;font-size:.85rem}</style>
</head><body><header>${escapeHtml(p.brand)}</header><h1>${escapeHtml(p.title)}</h1><table>${rows}</table>${form}
${p.note ? `<p class="note">${escapeHtml(p.note)}</p>` : ""}</body></html>`;
}
