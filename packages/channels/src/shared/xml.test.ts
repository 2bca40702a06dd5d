import { describe, expect, it } from "vitest";
import { parseFlatXml, toFlatXml } from "./xml.ts";

describe("flat XML", () => {
  it("reads back what it writes, CDATA split around ]]> included", () => {
    const fields = { a: "plain", b: "x]]>y", c: "]]]>", d: "<tag>&amp;" };
    expect(parseFlatXml(toFlatXml(fields))).toEqual(fields);
    expect(parseFlatXml("<xml><n>1 &lt; 2</n></xml>")).toEqual({ n: "1 < 2" });
    expect(parseFlatXml("<xml><a><b>1</b></a></xml>")).toBeNull();
  });

  it("refuses hostile documents in linear time", () => {
    // The field pattern's CDATA sections used to swallow one another: 2^N attempts for a run of N sections
    // without a closing tag (24 took 0.2 s, 34 minutes), and unclosed sections cost a scan of the rest each.
    const hostile = [
      "<xml><a>" + "<![CDATA[x]]>".repeat(4_000) + "</xml>",
      "<xml>" + "<a><![CDATA[".repeat(5_000) + "</xml>",
      "<xml>" + "<a>".repeat(16_000) + "</xml>",
    ];
    for (const body of hostile) {
      const started = performance.now();
      expect(parseFlatXml(body)).toBeNull();
      expect(performance.now() - started).toBeLessThan(200);
    }
  });
});
