import { describe, expect, it } from "vitest";
import {
  BANK_DIRECT_CAPABILITIES,
  CARRIER_CAPABILITIES,
  type ChannelId,
  UNIONPAY_CAPABILITIES,
  WECHAT_CAPABILITIES,
  ALIPAY_CAPABILITIES,
  PAYPAL_CAPABILITIES,
} from "@pps/channels";
import { DEFAULT_CHANNEL_CONFIGS } from "./channel-defaults.ts";
import { CLOSED, type Circuit } from "./circuit-breaker.ts";
import { type ChannelConfig, type ChannelView, rankChannels, ranked, type RoutingInput } from "./ranking.ts";

const NOW = 1_800_000_000_000;
const CIRCUIT = { failureThreshold: 5, cooldownMs: 30_000, probeTimeoutMs: 15_000 };
const NO_DATA = { calls: 0, successRate: null, avgLatencyMs: null };

const CAPS = {
  bank_direct: BANK_DIRECT_CAPABILITIES,
  unionpay: UNIONPAY_CAPABILITIES,
  wechat: WECHAT_CAPABILITIES,
  alipay: ALIPAY_CAPABILITIES,
  carrier: CARRIER_CAPABILITIES,
  paypal: PAYPAL_CAPABILITIES,
} as const;

function view(
  id: keyof typeof CAPS,
  over: Omit<Partial<ChannelView>, "config"> & { config?: Partial<ChannelConfig> } = {},
): ChannelView {
  const { config, ...rest } = over;
  return {
    id: id as ChannelId,
    capabilities: CAPS[id],
    circuit: CLOSED,
    health: NO_DATA,
    ...rest,
    config: { id: id as ChannelId, ...DEFAULT_CHANNEL_CONFIGS[id as ChannelId], ...config },
  };
}

const cmb: RoutingInput = {
  product: "online_banking",
  amount: 10_000,
  currency: "CNY",
  bankCode: "CMB",
  wallet: null,
  captureMethod: "automatic",
};
const reasonOf = (cands: ReturnType<typeof rankChannels>, ch: string) =>
  cands.find((c) => c.channel === ch)?.excludedReason;

describe("ranking by fee", () => {
  it("puts the cheaper channel first and computes each fee with integer math", () => {
    const out = rankChannels(cmb, [view("unionpay"), view("bank_direct")], NOW, CIRCUIT);
    expect(ranked(out).map((c) => [c.channel, c.fee, c.rank])).toEqual([
      ["bank_direct", 50, 1], // 0 + 10 000 × 50 bps
      ["unionpay", 70, 2], // 10 + 10 000 × 60 bps
    ]);
  });

  it("follows the fees: a cheaper scheme beats the direct link", () => {
    const out = rankChannels(
      cmb,
      [view("bank_direct"), view("unionpay", { config: { feeFixed: 0, feeRateBps: 10 } })],
      NOW,
      CIRCUIT,
    );
    expect(ranked(out)[0]).toMatchObject({ channel: "unionpay", fee: 10 });
  });

  it("rounds the percentage half up to a whole minor unit", () => {
    const out = rankChannels(
      { ...cmb, amount: 150 },
      [view("bank_direct", { config: { feeRateBps: 50 } })],
      NOW,
      CIRCUIT,
    );
    expect(out[0]?.fee).toBe(1); // 150 × 0.5 % = 0.75 → 1
  });

  it("breaks a fee tie by recent success rate, then latency, then priority", () => {
    const same = { feeFixed: 0, feeRateBps: 50 };
    const healthy = { calls: 100, successRate: 0.99, avgLatencyMs: 200 };
    const flaky = { calls: 100, successRate: 0.8, avgLatencyMs: 50 };
    let out = rankChannels(
      cmb,
      [view("bank_direct", { config: same, health: flaky }), view("unionpay", { config: same, health: healthy })],
      NOW,
      CIRCUIT,
    );
    expect(ranked(out)[0]?.channel).toBe("unionpay");

    const fast = { calls: 100, successRate: 0.99, avgLatencyMs: 40 };
    out = rankChannels(
      cmb,
      [view("bank_direct", { config: same, health: fast }), view("unionpay", { config: same, health: healthy })],
      NOW,
      CIRCUIT,
    );
    expect(ranked(out)[0]?.channel).toBe("bank_direct");

    out = rankChannels(
      cmb,
      [
        view("bank_direct", { config: { ...same, priority: 50 } }),
        view("unionpay", { config: { ...same, priority: 5 } }),
      ],
      NOW,
      CIRCUIT,
    );
    expect(ranked(out)[0]?.channel).toBe("unionpay");
  });

  it("never lets health outrank a cheaper fee", () => {
    const out = rankChannels(
      cmb,
      [
        view("bank_direct", { health: { calls: 100, successRate: 0.9, avgLatencyMs: 900 } }),
        view("unionpay", { health: { calls: 100, successRate: 1, avgLatencyMs: 10 } }),
      ],
      NOW,
      CIRCUIT,
    );
    expect(ranked(out)[0]?.channel).toBe("bank_direct");
  });
});

describe("exclusion reasons", () => {
  it("product: wallets cannot do online banking", () => {
    const out = rankChannels(cmb, [view("wechat"), view("bank_direct")], NOW, CIRCUIT);
    expect(reasonOf(out, "wechat")).toBe("product_not_supported");
    expect(out.find((c) => c.channel === "wechat")?.fee).toBeNull();
  });

  it("currency", () => {
    const out = rankChannels({ ...cmb, currency: "USD" }, [view("bank_direct"), view("unionpay")], NOW, CIRCUIT);
    expect(out.map((c) => c.excludedReason)).toEqual(["currency_not_supported", "currency_not_supported"]);
  });

  it("bank: a direct link only for its own banks, UnionPay for any bank", () => {
    const out = rankChannels({ ...cmb, bankCode: "SPDB" }, [view("bank_direct"), view("unionpay")], NOW, CIRCUIT);
    expect(reasonOf(out, "bank_direct")).toBe("bank_not_supported");
    expect(ranked(out).map((c) => c.channel)).toEqual(["unionpay"]);
    const noBank = rankChannels({ ...cmb, bankCode: null }, [view("bank_direct"), view("unionpay")], NOW, CIRCUIT);
    expect(ranked(noBank).map((c) => c.channel)).toEqual(["unionpay"]);
  });

  it("wallet: platform_pay goes to the wallet the payer chose", () => {
    const input: RoutingInput = {
      product: "platform_pay",
      amount: 500,
      currency: "CNY",
      bankCode: null,
      wallet: "alipay",
      captureMethod: "automatic",
    };
    const out = rankChannels(input, [view("wechat"), view("alipay")], NOW, CIRCUIT);
    expect(reasonOf(out, "wechat")).toBe("wallet_not_supported");
    expect(ranked(out).map((c) => c.channel)).toEqual(["alipay"]);
  });

  it("operator limits and the channel's own cap", () => {
    const out = rankChannels(
      cmb,
      [view("bank_direct", { config: { minAmount: 20_000 } }), view("unionpay", { config: { maxAmount: 5_000 } })],
      NOW,
      CIRCUIT,
    );
    expect(reasonOf(out, "bank_direct")).toBe("below_min_amount");
    expect(reasonOf(out, "unionpay")).toBe("above_max_amount");
    const carrier = rankChannels(
      {
        product: "carrier_billing",
        amount: 60_000,
        currency: "CNY",
        bankCode: null,
        wallet: null,
        captureMethod: "automatic",
      },
      [view("carrier", { config: { maxAmount: 1_000_000 } })],
      NOW,
      CIRCUIT,
    );
    expect(carrier[0]?.excludedReason).toBe("above_channel_max_amount");
  });

  it("disabled and not configured", () => {
    const out = rankChannels(
      cmb,
      [view("bank_direct", { config: { enabled: false } }), { ...view("unionpay"), config: undefined }],
      NOW,
      CIRCUIT,
    );
    expect(reasonOf(out, "bank_direct")).toBe("disabled");
    expect(reasonOf(out, "unionpay")).toBe("not_configured");
    expect(ranked(out)).toEqual([]);
  });

  it("circuit open: excluded until the cooldown has passed, then offered as a probe", () => {
    const open: Circuit = {
      state: "open",
      consecutiveFailures: 5,
      openedAt: NOW - 10_000,
      probeStartedAt: null,
      forced: false,
    };
    let out = rankChannels(cmb, [view("bank_direct", { circuit: open }), view("unionpay")], NOW, CIRCUIT);
    expect(reasonOf(out, "bank_direct")).toBe("circuit_open");
    expect(out.find((c) => c.channel === "bank_direct")).toMatchObject({ fee: 50, circuit: "open", rank: null });
    expect(ranked(out).map((c) => c.channel)).toEqual(["unionpay"]);

    out = rankChannels(
      cmb,
      [view("bank_direct", { circuit: { ...open, openedAt: NOW - 30_000 } }), view("unionpay")],
      NOW,
      CIRCUIT,
    );
    expect(ranked(out)[0]).toMatchObject({ channel: "bank_direct", needsProbe: true });

    const probing: Circuit = { ...open, state: "half_open", probeStartedAt: NOW - 1_000 };
    out = rankChannels(cmb, [view("bank_direct", { circuit: probing }), view("unionpay")], NOW, CIRCUIT);
    expect(reasonOf(out, "bank_direct")).toBe("circuit_probe_in_flight");
  });

  it("circuit half-open with a share: a payment whose draw falls within it is ranked without a probe", () => {
    const probing: Circuit = {
      state: "half_open",
      consecutiveFailures: 5,
      openedAt: NOW - 40_000,
      probeStartedAt: NOW - 1_000,
      forced: false,
    };
    const channels = [view("bank_direct", { circuit: probing }), view("unionpay")];
    const cfg = { ...CIRCUIT, halfOpenShare: 0.1 };
    const within = rankChannels(cmb, channels, NOW, cfg, [], () => 0.05);
    expect(ranked(within)[0]).toMatchObject({ channel: "bank_direct", needsProbe: false, circuit: "half_open" });
    const outside = rankChannels(cmb, channels, NOW, cfg, [], () => 0.5);
    expect(reasonOf(outside, "bank_direct")).toBe("circuit_probe_in_flight");
  });

  it("a channel already tried for this payment is not tried again", () => {
    const out = rankChannels(cmb, [view("bank_direct"), view("unionpay")], NOW, CIRCUIT, ["bank_direct"]);
    expect(reasonOf(out, "bank_direct")).toBe("already_tried");
    expect(ranked(out).map((c) => c.channel)).toEqual(["unionpay"]);
  });
});

describe("manual capture", () => {
  it("goes only to channels that can hold the money, the others excluded as flow_not_supported", () => {
    const wallet = (w: "wechat" | "alipay"): RoutingInput => ({
      product: "platform_pay",
      amount: 500,
      currency: "CNY",
      bankCode: null,
      wallet: w,
      captureMethod: "manual",
    });
    // WeChat Pay has no pre-authorization; Alipay freezes funds.
    expect(reasonOf(rankChannels(wallet("wechat"), [view("wechat")], NOW, CIRCUIT), "wechat")).toBe(
      "flow_not_supported",
    );
    expect(ranked(rankChannels(wallet("alipay"), [view("alipay")], NOW, CIRCUIT)).map((c) => c.channel)).toEqual([
      "alipay",
    ]);
    const carrier = rankChannels(
      {
        product: "carrier_billing",
        amount: 500,
        currency: "CNY",
        bankCode: null,
        wallet: null,
        captureMethod: "manual",
      },
      [view("carrier")],
      NOW,
      CIRCUIT,
    );
    expect(carrier[0]).toMatchObject({ excludedReason: "flow_not_supported", fee: null, rank: null });
    // The same payment captured at once is the carrier's.
    expect(
      ranked(
        rankChannels(
          {
            product: "carrier_billing",
            amount: 500,
            currency: "CNY",
            bankCode: null,
            wallet: null,
            captureMethod: "automatic",
          },
          [view("carrier")],
          NOW,
          CIRCUIT,
        ),
      ),
    ).toHaveLength(1);
    expect(
      ranked(rankChannels({ ...cmb, captureMethod: "manual" }, [view("bank_direct"), view("unionpay")], NOW, CIRCUIT)),
    ).toHaveLength(2);
  });
});

describe("limits and fixed fees in hundredths of the payment's currency", () => {
  const card = (amount: number, currency: string): RoutingInput => ({
    product: "foreign_card",
    amount,
    currency,
    bankCode: null,
    wallet: null,
    captureMethod: "automatic",
  });
  // 100,000.00 of any currency.
  const limited = view("paypal", { config: { minAmount: 100, maxAmount: 10_000_000 } });

  it("refuses JPY 10,000,000 at a maximum of 100,000.00 while USD 99,999.99 passes", () => {
    expect(reasonOf(rankChannels(card(10_000_000, "JPY"), [limited], NOW, CIRCUIT), "paypal")).toBe("above_max_amount");
    expect(ranked(rankChannels(card(100_000, "JPY"), [limited], NOW, CIRCUIT))).toHaveLength(1);
    expect(reasonOf(rankChannels(card(100_001, "JPY"), [limited], NOW, CIRCUIT), "paypal")).toBe("above_max_amount");
    expect(ranked(rankChannels(card(9_999_999, "USD"), [limited], NOW, CIRCUIT))).toHaveLength(1);
    expect(ranked(rankChannels(card(10_000_000, "USD"), [limited], NOW, CIRCUIT))).toHaveLength(1);
    expect(reasonOf(rankChannels(card(10_000_001, "USD"), [limited], NOW, CIRCUIT), "paypal")).toBe("above_max_amount");
  });

  it("rounds a minimum up for a currency without cents: 1.50 is 2 yen", () => {
    const min = view("paypal", { config: { minAmount: 150 } });
    expect(reasonOf(rankChannels(card(1, "JPY"), [min], NOW, CIRCUIT), "paypal")).toBe("below_min_amount");
    expect(ranked(rankChannels(card(2, "JPY"), [min], NOW, CIRCUIT))).toHaveLength(1);
    expect(reasonOf(rankChannels(card(149, "USD"), [min], NOW, CIRCUIT), "paypal")).toBe("below_min_amount");
  });

  it("converts the fixed fee half up to whole yen, and keeps cents as they are", () => {
    const fee = (feeFixed: number, amount: number, currency: string) =>
      rankChannels(
        card(amount, currency),
        [view("paypal", { config: { feeFixed, feeRateBps: 340 } })],
        NOW,
        CIRCUIT,
      )[0];
    // JPY 10,000 × 3.4 % = 340 yen, plus 0.30 → 0, 0.50 → 1, 1.49 → 1 yen.
    expect(fee(30, 10_000, "JPY")).toMatchObject({ fee: 340, feeFixed: 0 });
    expect(fee(50, 10_000, "JPY")).toMatchObject({ fee: 341, feeFixed: 1 });
    expect(fee(149, 10_000, "JPY")).toMatchObject({ fee: 341, feeFixed: 1 });
    // USD 100.00 × 3.4 % = 3.40, plus 0.30 = 3.70 (in cents).
    expect(fee(30, 10_000, "USD")).toMatchObject({ fee: 370, feeFixed: 30 });
  });
});
