import type { ChannelId } from "./types.ts";

/*
 * ============================================================================================
 *  FAKE DEVELOPMENT-ONLY KEYS. NOT SECRET. NEVER USE IN PRODUCTION.
 * ============================================================================================
 * These are published, throwaway keys so that the adapters (packages/channels) and the simulated
 * channels (apps/channel-sim) can sign and verify each other on a developer machine and in tests.
 * Real deployments set CHANNEL_<ID>_MERCHANT_ID, CHANNEL_<ID>_SIGNING_KEY and CHANNEL_<ID>_VERIFY_KEY
 * (see registry.ts); anything signed with these keys proves nothing.
 */

/** Key material of one dev channel, both sides. */
export type DevChannelKeys = {
  /** Our merchant id at the (simulated) channel. */
  merchantId: string;
  /** What we sign requests with: a shared secret or our RSA private key (PEM). */
  merchantSigningKey: string;
  /** What the channel verifies our requests with: the same shared secret or our RSA public key. */
  merchantVerifyKey: string;
  /** What the channel signs answers and callbacks with: a shared secret or its RSA private key. */
  channelSigningKey: string;
  /** What we verify the channel with: the same shared secret or its RSA public key. */
  channelVerifyKey: string;
};

const shared = (merchantId: string, secret: string): DevChannelKeys => ({
  merchantId,
  merchantSigningKey: secret,
  merchantVerifyKey: secret,
  channelSigningKey: secret,
  channelVerifyKey: secret,
});

// Fake RSA-2048 key pairs (PKCS#8 private, SPKI public), generated once for development.
const DEV_UNIONPAY_MERCHANT_PRIVATE_KEY = `-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCtWlJRdRVVwETA
6gZ4QAfJ36AyV14yHSdVhk46W4ysMXIq1dlzDuc5Zhm1DYrSaaP4i2l0rIXmC1cO
FuoQE51VRJOJBbfTjt4tIvP3D3UugxbJONZeronUxt0pddBLWNwbAM5ugcHmUzka
bfbTNgCv5n43kh3iG0fwJpObW6V7hZJNkV8jo43pA7TX2BUQYjdax0VeZOMx390n
QKzfwLjqt9a7MFOcq8pvvLrhj2R6jCz0Nxu2qp9GLhZh57c6V8vWFmj9RduCcN0I
zm2M4CkGeTF+4cjZ4BgZRHsxDb3+EuR1bFI7iUEc4uIemgGQ31dBBgRHZ/Upbl/w
auq0dA79AgMBAAECggEAIuMWxnxy9P07CP0AHNK8DolSBteU5i5+VESxeSakBqJz
2MGNX827xI4y9cA6NDLc9D/wUvIGh3+4PyZm6CHea8LfkzeioXGy7nAGm63RdjEd
FJV69PaY2AjGiRnD9+nz7/5HTS+Re347s4E2Z5bKaBwRwjLGj1LQtTi6Q42b3eHz
83HgF/yR/xugVy1sukYY+tMbdADHF+q7ELb7OoDRbniRF3EtyC7183Mciq+UiD5/
e33moxhB8cqipWuwH/zkDR1NXPTQbRCcfu/oBWkRcA6DPCOmKRduDv/9T5h8S3za
ZPVGFCMxmebtEumg7TWtn3Q2e/LP3cTGdOZW5tsZWQKBgQDxkFGQ1aj3hVaFePsK
I+GmLgXGg8+grHGr9Bb3Tv0Z/edjBgBurQt1tMa+ty6C2Su8OsFHCzhBI+XCBLws
IoQHtbJkiuRaVzm+aBGYxi7EqjRkOr+hQGUVXWE4P7Z5ELf0sz7FO0TNJ4f3Gv+3
mYSnjeEb2kHhuKJ2+fbyXaNSZQKBgQC3tnHUMrlxnnYdoQawKPZNO4ZkbiBpSxLX
LvC+I9mtKBADSU1ueyTJC4KW4nLK1khBmQihBnsCVuQfgpcnqcnHb4+gbGE8MFzu
+dv/yW7OE/pmCstfbBHUyZ6EDlGZT8J/4meQ2Iy9bCWpukiGDV9ghR87VPuSew6C
m1t5Vl00uQKBgQDQF4qsQeJ0l6CZCkb3zUEtbqf7AsFxoBusDXFbSegu49LYMutc
bCVbGIe88wBWJ87NL7AgC0JCmzHpmTqgqnsiSRuMETn1uP49UFkYSmEveY/4Z8N8
nYR2iyKc2gXO9OADJAYG0a/LKyqta8yt1Mm5rTcmTzZBxFPwOhTJZHC1IQKBgEdf
PQfYkQ0gJ/lI1uVXdKD6sDKSSks93Fr3JJZqLSZFezsbnlZ+xwLIUvq1jS1aZIX/
o0eT0fRNt6C6RmklYHv3zo/fq0ML8v7w2VSdeEvdnRlJtksjHCZUEh5xxafPQdwX
JG80gjERM+ylr4lM5rID5edSE86Luk5pdvdD40AZAoGBAMzejY5FSgzQViaBv8Ig
0hWRU5z1YfpmVfJ71YxpxF8RGn2NGrZSz/fCUF0a66HlYd6SGYxv55IR/AoAUHgr
Bm2K1Wt2YPAnlM1vZ2V8/acr0H8Xq7mynXL5+4JCMZEBaqA0LzJndeAZ14ljLOEj
4hDkgzVv2cByPIJlSq5buCri
-----END PRIVATE KEY-----`;
const DEV_UNIONPAY_MERCHANT_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArVpSUXUVVcBEwOoGeEAH
yd+gMldeMh0nVYZOOluMrDFyKtXZcw7nOWYZtQ2K0mmj+ItpdKyF5gtXDhbqEBOd
VUSTiQW3047eLSLz9w91LoMWyTjWXq6J1MbdKXXQS1jcGwDOboHB5lM5Gm320zYA
r+Z+N5Id4htH8CaTm1ule4WSTZFfI6ON6QO019gVEGI3WsdFXmTjMd/dJ0Cs38C4
6rfWuzBTnKvKb7y64Y9keows9DcbtqqfRi4WYee3OlfL1hZo/UXbgnDdCM5tjOAp
BnkxfuHI2eAYGUR7MQ29/hLkdWxSO4lBHOLiHpoBkN9XQQYER2f1KW5f8GrqtHQO
/QIDAQAB
-----END PUBLIC KEY-----`;
const DEV_UNIONPAY_CHANNEL_PRIVATE_KEY = `-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQD5jZObMbVSW9Rs
PKEfK7SWRI/ejokKRNdk5k8u70Il+twM486uELQri4bi2Y+3MJggFKwAHpJS+Mhr
DbTmk8NtIM1/toUoMgQS9QQdZxtTtB3v+IJr3ZUrhYKj9TBI+Ra0OuWaK+mvMh2b
C9jqVkctX2keGcQtoOkKWyxmEhRMBbDlGV6tjfx/fl3z+JcNqIQXaFbd+PnviA7T
LhL2iwzL7uda8ZuaIpXBt4xfvmtHJM7RasxEZTn9jCwsb9sskeaVulVcqx45Wjll
/iTsTR2PnTGXFQpZgUnH468ZVn1ZsKs8iE1iusraviQgBUPQwwhAuPvydbovpIGl
ksgrSDIxAgMBAAECggEAdOhcVAIPfcvDUgl9OcsRyKvJ8ms3y/XAKmayhbxUctJ4
sBkww97TaOruf+uIJju/qJfGlC++QNyHl49ORg7HKKKLYt8wtknoGrFqAhRBew8Q
T1FOWBXwQflD4GeG/Uij2D8XPQiBay/BKtd8ARv2ME1YQ1+yxeVyBwX7YL3rgEjl
aWOmc1IR8Kq85Poor8l0YyTL+s2iWpvBBJ1dr2WlLYPtg1+Zl0pevVyDK3cCQ3g0
2ERZGssz7JWS9NqVudwngfvh2e427AVa3OmhuAwYs9CeV1DO4+Mri6OyCJjpQpfh
LzsOg6LAVAuG6U3lZGAfgXXDPFrAMsT6re5GAxu1eQKBgQD+CoVITtUay0Kx5JK/
ZJgQydpdlfzo5W2x3DU9PswC0B6x+I9SzbY8f8IAlv9Oz4G0PFQ3OqJHEozMJ764
EQ+lMAC3hogXaYoV3A1DaAj78ssRZsPj1RGkc91HCrkbdaUFX/U7JYoE4zOMF9xJ
y1+SeaSgcK30VqXTmWbn/6MKBwKBgQD7ejJMT2islVv+pO05fB69m7DEoxMWSl+B
u7NkQvd75AYDy16XQPVg8p5wyQMJXmseUF8QLyF/kZ20ex16p7EjYO1l9I3ZSHs/
lhxRWf4vHwk9dNj6c88oEJM94UN/YP4XgJXTMkHEU3aOuDCXi1795Ot2BYH17gfb
RDaEBYq0BwKBgQCRHPldgIqCr7D9ZQ/efFvQ2zz9UHwTnVq3yo4u2fw3byLZjp5w
Mkny7ReotphIMIhqqDuDAN9JsfLze5CaHETPm0gNja+XkBXsvrJk2rynDt2opwcm
0cMuKXEw75MleGI3W8T9cEgS2qXLVKXlEWMajJnZfAQiGozG/k2mIITFaQKBgFct
Skh38sJ5WJXTGMWnyIRUd5gDLDe6+pbfudWU/XQ+XPNtydHHXAkKsnBIzruttpag
qAPVQtiVY0VQtKxze43XKRUCDTZ40Pj/EbwF5X7yVGKwohNYmES8Uj7OW3bJ6eu9
0LKRJolnoZ7iLT4ru3dqp1GXoTDfHmwdnoRv42B7AoGBALVnhMi/ZWcI2edjXplI
cEeahgSgah/rXypO3H2TAwHzx4S37ECq3bEc9kYckSzupgOCIJdcSYzMDFkZcRMU
ElXI9sj28/avQttvcevY9GH0IMtqx+2T+hO0HDHE+rbwXbZuh3dNMXOz2MU7g+W4
sP3x+6VxpZ3TZTAOrfc/TAWc
-----END PRIVATE KEY-----`;
const DEV_UNIONPAY_CHANNEL_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA+Y2TmzG1UlvUbDyhHyu0
lkSP3o6JCkTXZOZPLu9CJfrcDOPOrhC0K4uG4tmPtzCYIBSsAB6SUvjIaw205pPD
bSDNf7aFKDIEEvUEHWcbU7Qd7/iCa92VK4WCo/UwSPkWtDrlmivprzIdmwvY6lZH
LV9pHhnELaDpClssZhIUTAWw5RlerY38f35d8/iXDaiEF2hW3fj574gO0y4S9osM
y+7nWvGbmiKVwbeMX75rRyTO0WrMRGU5/YwsLG/bLJHmlbpVXKseOVo5Zf4k7E0d
j50xlxUKWYFJx+OvGVZ9WbCrPIhNYrrK2r4kIAVD0MMIQLj78nW6L6SBpZLIK0gy
MQIDAQAB
-----END PUBLIC KEY-----`;
const DEV_ALIPAY_MERCHANT_PRIVATE_KEY = `-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCpytjYDZkI69X1
qIa7OEAIZEjEue1+jce5LayyQmWulgACKfTgzZyXzoZDFxsuy6YRpQ8Os53KQyyT
nTnLPYlnO84oZLF4C8N0J3VHEUggf4B0hdpowzcH3v5c1OELi2uLWQPCVz+IxNkm
MaOpmeVbTf7dtVZnLJWMScb40a7S/76LrloRieMstBCGULlP3VaYoZ7oQ8z8GP08
HHzYIMM+hFyFgU3tuxkFt0wfERfiE+/JlYeWDTOxekszD/PI4YNKcwSYNxPKBZFe
1me/eyil8QcKCljfGIffVuiVIkntZMaKp0myH7bvRqwo6PjnO/PZf6ptQShe7EUD
h43Qy7BhAgMBAAECggEAKXsoLOhtidNsCz8n41djtWkiqgUuc2uZ7rCs70PvaY61
49FyRPWWmzPWc0+S0YTpRohHvHS/SOnOWyXfN7sJ9ZGT1SR8gvKExrzZFwquz1m2
/UCyUkPXDvI4vF85t8NQ+9M8at8742MMFhuse0Pg18SfTnT97ejjhEmF9cXsaxmw
BqkvPEod36BP2+cUO0Hy3VLUYq4AF5okP2PEbHhqQruruu0A69hwl0V97qmSCxyD
KTXzYnYBPYGyZ0huazflqSvzDH0CS0S5qBmcln+Ki5271eVHCfM0BXF8zUCPvO26
eMqf2gC7wZS6z2h+UNIEJviG3puNOj4qTQBDVl6tEQKBgQDTv9vj1Wa5uxWK8IMB
8QH5EZIGEcQokxPQ70JkS4Tasopw73D3X6T1Zksq46xxxlZi84S7u02iUy/GHlJF
rFYnT4VYPZ7OjhDcTDlswHzf1oQ1S3I7qyN7BfmvBghqyiephrRpNQPJd/q2amDh
TAHYJ96ViVaaJahc6iwc6QPJ9QKBgQDNRl/ey6IQZKYwVA7KFpmFSbMzgeUEJI0x
peT8xcW1PFYKoJa+gIGL3BVWlbkXbXOMdPZrwQQJnQyIKs7z+RuQ6y97ATs3yHN0
EG81e2rt1I2W7UfBHl5CIU56o27q1XHay/ANdKxsktaHySChuvnRGvhN33sE1VwS
xWPQWYKtPQKBgBnZEb5+DkwdykNrmJJkGRmOS4TyJj/NtF2M103m6hDIOp4OnHuV
8U0Db6mMoUBCNclecJV6B8AI54wHp4NZxiqGSoC7BOex79z0cQ4VcSjhxsG6s/cU
rQAXeqMi2WQvySeoid1N22h8fN5Hngvie1cnhsQ6P5gRgLvW2gutZgkBAoGABTPc
aCwnDl1OrPjkaxDJkUw943dOU52Nio2W0SU+DorZ72kEiQ1+uwm37LrctxBKFmw8
dpysuoWldKoJFrvgi/q5+FcephpJes6T0vouyppRgFrBL87SOsDXWVpdDEyelxoG
GoEzgYjzMPvS/OZdQIR7eJXKa2Pw8nTYQ8aQ/k0CgYA4DsOEGvMJIo3tLHLddLdI
q4/6Es1sW4IPvOGKr9IFs7SNFVuJhibgwpmR27E+ZMzJ9TeV49dVI5enfMSoWlqs
EZIM2m5J6j68kvq51yfu+g6VWorRf1iqu23Jm6H8COwpVcOdE6rNWxEk4DVudgrH
M3L+640N75gUUvL5jxcE4A==
-----END PRIVATE KEY-----`;
const DEV_ALIPAY_MERCHANT_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqcrY2A2ZCOvV9aiGuzhA
CGRIxLntfo3HuS2sskJlrpYAAin04M2cl86GQxcbLsumEaUPDrOdykMsk505yz2J
ZzvOKGSxeAvDdCd1RxFIIH+AdIXaaMM3B97+XNThC4tri1kDwlc/iMTZJjGjqZnl
W03+3bVWZyyVjEnG+NGu0v++i65aEYnjLLQQhlC5T91WmKGe6EPM/Bj9PBx82CDD
PoRchYFN7bsZBbdMHxEX4hPvyZWHlg0zsXpLMw/zyOGDSnMEmDcTygWRXtZnv3so
pfEHCgpY3xiH31bolSJJ7WTGiqdJsh+270asKOj45zvz2X+qbUEoXuxFA4eN0Muw
YQIDAQAB
-----END PUBLIC KEY-----`;
const DEV_ALIPAY_CHANNEL_PRIVATE_KEY = `-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDUfy0ixn/k8okF
LRu5cQBxNPQ0/mTkfOeU85nZNE2AONa/Wg4Mu5wd47g9UMPYa4NmZqo2ffUDJlG1
VZDgpPWdeq00PRXIZnVaiQ0ifL9SwruE3l0BfBduRZGvi/etCzklY9fDQ+hHvdH/
1cXIXpwmn25JgB7G5Jd/O51H1qeaOzPyPPqPGaPdJHjvo0hq5EvToJug39Jb1NBk
Fi3p4nUzbd+0AuzBo/puwcIlRnwkBk/puLy/nqfcJh12+7mDi42dR7yOuMFqNy3q
yLmWm//iJ1qikjH7Ep5t9I8LrRwDunHNw2oWj0J/B+ZYtMX68zf1HLpVFzFeq5lu
/jbN2+MpAgMBAAECggEABSkq4nZUXYNvxSVppUuo9Bbne3Crk0peoXp3w75bx3/E
j2nTf4cAQqWThZcJj/RZ1knWBnQcAuiSVsduOQEon0Ypy2P/EcU97RCjtgZg6yn5
kz+HSLryeBDOefyklkT4gqpLGjNIV+hfSkmvKlpJ4TzsA8hNzGIkNR3bMwcek5tN
ypSp4Up3ZThr5NaoLo/C+C7R2Fy6FYwtQCzE5RYSUaA5TSAvtNEFmSi0IzYBEUiZ
aM/PeUQcfpqLnzc1+TstwKvfHR+EvwCVjLsEtAcikptsFUvGo84fNktp1m1+8f7h
tUXmAwmop70lRMXuchISb88mYbSnvHj+n0ghe0MZAQKBgQD7AN7P1AKa6zgYN2VZ
1Q9Mbj1u4BK4IzqSdTEm2zXOLbISH7qCE2Lx7swBSieGnv0kDlD+bh3K3GvzAbNt
6x6o8y/JAVZyMIgFndUmWN8MVXyes9oDWSvl2KDoGZ+symB3d4SdZe9pkMKyEBx4
ystI48G9ve2WNR/P2BkACHU9oQKBgQDYuhLf12Uy66Bj8sB5rLvSURomZchCVTCM
5svDy/xc3wuXGzNtd9PPse6TPtFIhO23qodh7n59PTbi0QpXpAjojHPgvDF9TU6Q
5tXbjpyiNQLejtRJE8JQuO6f8qRmrJe7zL0eWiWNioeFksM1wlPr+jUovKG8AZgo
Hhel2MToiQKBgEG9t539bHVA+F83Wx9NM4WUNhjtLVn3OCcV9Lq1nYET7NjcYJAj
Hb46CkqoLnQO/kRMT6BkHP99/fQW1PUMKOqdTz25UPf1iBrYfPRfQIRNe6dhec94
souv0m0YEP9DvkJsFlrXUP54QNY8bAijLN05cgwNS8YUwfFBK0Mb9AEhAoGBAIO7
XluWlhmEZUI7PEj4+FUXHNj4Buhi1Zbfdj110Ng2btoTG4hPTHyy/3uatCTrP37i
9VVOXK4NNj5Zp3qr5wpKzOhuG3q5Macb2COTJJvnsu3KTTh5/SOJtOmd19Xc1IG/
Kbi4PJky+br0ARm9G7uUoxk2xuv64ByKZf9VqiJZAoGAAxmsvCQSJvHXZr6MXY29
SdWTFFcUwSCRR6ERrYwKqtr8Haf28iHnUitoKPnovxfn3um41Elzl2ieZDHHktuh
P8uZIwzCdaOdUcZ/FMZ8PV+vbiX9HReUqJBjY/tJ8ow6LuMinRuZMmyn7vGU86+9
QYO9ri9PBCamXA2r4+wzIis=
-----END PRIVATE KEY-----`;
const DEV_ALIPAY_CHANNEL_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1H8tIsZ/5PKJBS0buXEA
cTT0NP5k5HznlPOZ2TRNgDjWv1oODLucHeO4PVDD2GuDZmaqNn31AyZRtVWQ4KT1
nXqtND0VyGZ1WokNIny/UsK7hN5dAXwXbkWRr4v3rQs5JWPXw0PoR73R/9XFyF6c
Jp9uSYAexuSXfzudR9anmjsz8jz6jxmj3SR476NIauRL06CboN/SW9TQZBYt6eJ1
M23ftALswaP6bsHCJUZ8JAZP6bi8v56n3CYddvu5g4uNnUe8jrjBajct6si5lpv/
4idaopIx+xKebfSPC60cA7pxzcNqFo9CfwfmWLTF+vM39Ry6VRcxXquZbv42zdvj
KQIDAQAB
-----END PUBLIC KEY-----`;

/** FAKE, development only: the key material channel-sim and the default adapter configuration share. */
export const DEV_CHANNEL_KEYS: Record<ChannelId, DevChannelKeys> = {
  bank_direct: shared("308999170120001", "dev-only-bank-direct-md5-key-NOT-SECRET"),
  unionpay: {
    merchantId: "777290058110048",
    merchantSigningKey: DEV_UNIONPAY_MERCHANT_PRIVATE_KEY,
    merchantVerifyKey: DEV_UNIONPAY_MERCHANT_PUBLIC_KEY,
    channelSigningKey: DEV_UNIONPAY_CHANNEL_PRIVATE_KEY,
    channelVerifyKey: DEV_UNIONPAY_CHANNEL_PUBLIC_KEY,
  },
  wechat: shared("1900000109", "dev-only-wechat-api-key-NOT-SECRET-32"),
  alipay: {
    merchantId: "2021000000000001",
    merchantSigningKey: DEV_ALIPAY_MERCHANT_PRIVATE_KEY,
    merchantVerifyKey: DEV_ALIPAY_MERCHANT_PUBLIC_KEY,
    channelSigningKey: DEV_ALIPAY_CHANNEL_PRIVATE_KEY,
    channelVerifyKey: DEV_ALIPAY_CHANNEL_PUBLIC_KEY,
  },
  paypal: shared("PPS-DEV-MERCHANT", "dev-only-paypal-webhook-hmac-NOT-SECRET"),
  carrier: shared("pps-dev-partner", "dev-only-carrier-hmac-NOT-SECRET"),
};
