import { randomInt } from "node:crypto";

export function randomDigits(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String(randomInt(10));
  return s;
}

const ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";

export function randomAlnum(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += ALNUM[randomInt(ALNUM.length)];
  return s;
}
