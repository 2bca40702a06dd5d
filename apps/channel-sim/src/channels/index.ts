import type { Hono } from "hono";
import type { ChannelId, DevChannelKeys } from "@pps/channels";
import type { AppEnv } from "@pps/runtime";
import type { SimDeps } from "../sim/deps.ts";
import { alipayRoutes, createAlipayProtocol } from "./alipay.ts";
import { bankDirectRoutes, createBankDirectProtocol } from "./bank-direct.ts";
import { carrierRoutes, createCarrierProtocol } from "./carrier.ts";
import { createPaypalProtocol, paypalRoutes } from "./paypal.ts";
import type { ChannelProtocol } from "./protocol.ts";
import { createUnionPayProtocol, unionpayRoutes } from "./unionpay.ts";
import { createWechatProtocol, wechatRoutes } from "./wechat.ts";

type RoutesFactory = (deps: SimDeps, proto: ChannelProtocol, keys: DevChannelKeys) => Hono<AppEnv>;

/** Each simulated channel: its protocol, its routes and where they are mounted. */
export const SIM_CHANNELS: Record<
  ChannelId,
  { mount: string; protocol: (keys: DevChannelKeys) => ChannelProtocol; routes: RoutesFactory }
> = {
  bank_direct: { mount: "/bank", protocol: createBankDirectProtocol, routes: bankDirectRoutes },
  unionpay: { mount: "/unionpay", protocol: createUnionPayProtocol, routes: unionpayRoutes },
  wechat: { mount: "/wechat", protocol: createWechatProtocol, routes: wechatRoutes },
  alipay: { mount: "/alipay", protocol: createAlipayProtocol, routes: alipayRoutes },
  paypal: { mount: "/paypal", protocol: createPaypalProtocol, routes: paypalRoutes },
  carrier: { mount: "/carrier", protocol: createCarrierProtocol, routes: carrierRoutes },
};

export function createProtocols(keys: Record<ChannelId, DevChannelKeys>): Map<ChannelId, ChannelProtocol> {
  return new Map((Object.keys(SIM_CHANNELS) as ChannelId[]).map((id) => [id, SIM_CHANNELS[id].protocol(keys[id])]));
}
