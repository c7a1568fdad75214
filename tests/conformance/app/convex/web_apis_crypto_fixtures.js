// Keys and answers the Web Crypto conformance modules check against, made with Node 20's WebCrypto
// (crypto.subtle) on this machine: the RSA-2048 pair below, RSA-PSS and RSA-OAEP outputs of it, a
// P-384 ECDSA pair and signature, an Ed25519 pair and signature, and AES-CTR output that wraps its
// counter. No Convex functions here.

// Node-generated RSA-2048 key pair (PKCS#8 private, SPKI public, base64 DER).
export const RSA_PKCS8_B64 =
  "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCkdUSAwcQKR+8cGQF1xpiDCKMTQicmgNajXMBH" +
  "FZ5yA8WY84Mt5tNuKRroOX3DgtBZ1JYjcye5tvZDboBW2ASjpgfvJE/VvVE8rH4u8SHZWokHWJfTIAAj3dSfOgM3" +
  "3ricLC0ovc8Ca840uTv3g8pNcTZLSF3e2dY/qz3URBtv4x8NFiIVMTQiLwCtAC9omKvpty+c3TS3UYUm2s49gLC6" +
  "NjAdGQZ8g6WRjd8+a5PsQSse+/PcWnJBrk8WmAtep5yIeSeOJEXylLs1Pp8E+IsQp5SKkL9K1+heghrZz2JvAP6E" +
  "1GC7rxn6YVaEfjDm+7odyEAJ0oGHTKIwywpBf3ABAgMBAAECggEABP/G5iO9uf2cyvMG+dW1yMnoQctxgDiguFTh" +
  "8ryOqp2VvJlZDqSlHwSjMOr1I+POlznLRJGZZApSlb3UAI/OzaCxk2HnBrLGDOebawGLy10hVuFTtX2+s1howFxV" +
  "lmBappirLhay+7pbiXvAqGdPrNH5BLR9nKrCL1ZHv15AopfYJd503FHmOoLaWT8tWsRf6UV0Ixihj3b5fUM6Q3iz" +
  "a6SwI/ldDPVkgfy5Qf3qoE8zbSqvyPJzb5RP5KSi6k+9zj0sEKb2qANXlrVTji3K03CTWTg6g6xuFOnsaw4tiFvX" +
  "BDY6ElWylLyyclNoxdAdouNmsQRZKweT5EH+G1ToCQKBgQDhB35WOKUGibkj4kxrsnZyUGkGLAKJAvgIdK8wfAIB" +
  "A5wEp06jlgLZdtK5Ff1cfewd9pquBNYbAuaUpofCpGH2U+e6wR/gQJVK9MgbcL6bJi9gG59SQnLidCDpmeCT2aLH" +
  "RiEVRvKHGtv8Q40iqjSuDDxT4Ph/qenuVgMYRt23hQKBgQC7F6fZ5ajJCCQGHT2oLROuY7yfSxqfstMOn7PIlgs9" +
  "c3d68KOjsF4gi+moPWWibH28N7i5vBKWbBExX5GNCKkNi8KqvZfWKP34EsT+4JOsuMBdfr0zu5789jkDjFDSf4R2" +
  "KXzLWgmfTbK7w2mUPOClsZe2kBPU1w6r6JaufppZTQKBgGGvwRZo7KrT6r07JfWyuVySr6TwQgF8enQhQ1QG4U/T" +
  "Y01Z2/eDzaTdwkh61Uvrli7DuQ5GJzP+pF5vlIvYlHY8omIeKFpPbv/lF2FiJjxv7S0JkLZDBmBsDUWbeTR1zAY5" +
  "2W7FJ8+ix1DRellMDiZoRWAcT4QMHPNL/3fwe5uJAoGAA5UtYq/SLp9YSUGwF5NdaB6C0y4WAW7kOch3IeU1q+SV" +
  "KiaHi6/p7YegXtdmJdkcA0mx4OSoGndRUPe6is/apObDQI/G45P/YQvC9/qG+WzESkYOC3qRTdjNOLMsLQvCFp0u" +
  "xZogywsq3Aue7vbHeoTPGfDiYFYJ8uLOV+MWw5UCgYA1QvZkTctRyImVe/JGSWPsI2dAFbcF4jE+TFSJiyJIBJU6" +
  "E9KMj+VfGRv4WBLAl+YR2hjyESFICSazkvdsVeVuLtpSK2GPSxjP0+A3CGzWuvKeywGNNdM9cD0aJV55/2hFnjhY" +
  "dfdtauEzK6RjcNBX64z21ildNUjfbyS51MG+Zw==";
export const RSA_SPKI_B64 =
  "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApHVEgMHECkfvHBkBdcaYgwijE0InJoDWo1zARxWecgPF" +
  "mPODLebTbika6Dl9w4LQWdSWI3Mnubb2Q26AVtgEo6YH7yRP1b1RPKx+LvEh2VqJB1iX0yAAI93UnzoDN964nCwt" +
  "KL3PAmvONLk794PKTXE2S0hd3tnWP6s91EQbb+MfDRYiFTE0Ii8ArQAvaJir6bcvnN00t1GFJtrOPYCwujYwHRkG" +
  "fIOlkY3fPmuT7EErHvvz3FpyQa5PFpgLXqeciHknjiRF8pS7NT6fBPiLEKeUipC/StfoXoIa2c9ibwD+hNRgu68Z" +
  "+mFWhH4w5vu6HchACdKBh0yiMMsKQX9wAQIDAQAB";
// SHA-256 of the RSASSA-PKCS1-v1_5/SHA-256 signature of "hello rsa" (computed with Node).
export const RSA_SIGNATURE_SHA256_HEX = "e37b98fe5f4f290fee49c2fdf443ff0a3de8441385b1540dc8f37632779268db";

// RSA-PSS/SHA-256 (saltLength 32) signature of "hello pss" with the RSA key above.
export const RSA_PSS_SIGNATURE_B64 =
  "X63b/60J+Uanv8nm9sxTSM6Bxkc6f0ROdUESQejHLhIAsgn+RzqfALGQ+djEAKULJSWJic7ubApC7hEYtqQTNEIk" +
  "+m5/SOuX4kKTWhvm6LRptiBjmDv7yFXx8IAM1jq1oum7zqs5o273HSTvG3VIFU0k9rlkDoc+IWA+z3Eh0JjxeygM" +
  "E/mEsVFGe2UHsAHP9AdD/9ao6LWVIuU+QuMAVu2EPX92Kstgg11eKIfEzJvNxLjkCGR5shDBSSsdYGL7572myUMt" +
  "x1NOm++lOIvAaxWcEFEc2FwMyovmfElFpW/SPNoCOcG+zixb0bG4kpgvqp9+RwIVDMg0fevFEyFsJg==";
// RSA-OAEP/SHA-256 encryption of "hello oaep" with label "L" to the RSA key above.
export const RSA_OAEP_CIPHERTEXT_B64 =
  "WCmm7/cUyVbqwVmQZtZWzbER1KyJGYxD/jRR4E7g9wrQh7jrtPoux9meELjH8aGv4hxsd0buMv2QH473oBRVLxDi" +
  "htqvOLoseaKKZtdLHUERSwrWbr//bLLgh7cYC/fVluvB0zC0GGfAXlE1N1I6MKdGfVpGZEf2p9HTI8G3gF8fPUE7" +
  "5IcWlpWZ86ePEzZB/49xBAu0ZPyWstFlXW5OK1sUGN8Bq5rWiQIxz21tC+B4jRgyntM8Pn7zCB3VflCVqXGqogoN" +
  "BEzQJeDyGvwN81pgLi3KqygHofRrGD3bAnRUDm+WtJ38h8Os/uO9duVsTBuQPNeeejkdxNUTVaKKKg==";
// Node's JWK export of the RSA key above imported as RSASSA-PKCS1-v1_5/SHA-256.
export const RSA_PRIVATE_JWK = {
  key_ops: ["sign"],
  ext: true,
  kty: "RSA",
  n:
    "pHVEgMHECkfvHBkBdcaYgwijE0InJoDWo1zARxWecgPFmPODLebTbika6Dl9w4LQWdSWI3Mnubb2Q26AVtgEo6YH" +
    "7yRP1b1RPKx-LvEh2VqJB1iX0yAAI93UnzoDN964nCwtKL3PAmvONLk794PKTXE2S0hd3tnWP6s91EQbb-MfDRYi" +
    "FTE0Ii8ArQAvaJir6bcvnN00t1GFJtrOPYCwujYwHRkGfIOlkY3fPmuT7EErHvvz3FpyQa5PFpgLXqeciHknjiRF" +
    "8pS7NT6fBPiLEKeUipC_StfoXoIa2c9ibwD-hNRgu68Z-mFWhH4w5vu6HchACdKBh0yiMMsKQX9wAQ",
  e: "AQAB",
  d:
    "BP_G5iO9uf2cyvMG-dW1yMnoQctxgDiguFTh8ryOqp2VvJlZDqSlHwSjMOr1I-POlznLRJGZZApSlb3UAI_OzaCx" +
    "k2HnBrLGDOebawGLy10hVuFTtX2-s1howFxVlmBappirLhay-7pbiXvAqGdPrNH5BLR9nKrCL1ZHv15AopfYJd50" +
    "3FHmOoLaWT8tWsRf6UV0Ixihj3b5fUM6Q3iza6SwI_ldDPVkgfy5Qf3qoE8zbSqvyPJzb5RP5KSi6k-9zj0sEKb2" +
    "qANXlrVTji3K03CTWTg6g6xuFOnsaw4tiFvXBDY6ElWylLyyclNoxdAdouNmsQRZKweT5EH-G1ToCQ",
  p:
    "4Qd-VjilBom5I-JMa7J2clBpBiwCiQL4CHSvMHwCAQOcBKdOo5YC2XbSuRX9XH3sHfaargTWGwLmlKaHwqRh9lPn" +
    "usEf4ECVSvTIG3C-myYvYBufUkJy4nQg6Zngk9mix0YhFUbyhxrb_EONIqo0rgw8U-D4f6np7lYDGEbdt4U",
  q:
    "uxen2eWoyQgkBh09qC0TrmO8n0san7LTDp-zyJYLPXN3evCjo7BeIIvpqD1lomx9vDe4ubwSlmwRMV-RjQipDYvC" +
    "qr2X1ij9-BLE_uCTrLjAXX69M7ue_PY5A4xQ0n-Edil8y1oJn02yu8NplDzgpbGXtpAT1NcOq-iWrn6aWU0",
  dp:
    "Ya_BFmjsqtPqvTsl9bK5XJKvpPBCAXx6dCFDVAbhT9NjTVnb94PNpN3CSHrVS-uWLsO5DkYnM_6kXm-Ui9iUdjyi" +
    "Yh4oWk9u_-UXYWImPG_tLQmQtkMGYGwNRZt5NHXMBjnZbsUnz6LHUNF6WUwOJmhFYBxPhAwc80v_d_B7m4k",
  dq:
    "A5UtYq_SLp9YSUGwF5NdaB6C0y4WAW7kOch3IeU1q-SVKiaHi6_p7YegXtdmJdkcA0mx4OSoGndRUPe6is_apObD" +
    "QI_G45P_YQvC9_qG-WzESkYOC3qRTdjNOLMsLQvCFp0uxZogywsq3Aue7vbHeoTPGfDiYFYJ8uLOV-MWw5U",
  qi:
    "NUL2ZE3LUciJlXvyRklj7CNnQBW3BeIxPkxUiYsiSASVOhPSjI_lXxkb-FgSwJfmEdoY8hEhSAkms5L3bFXlbi7a" +
    "Uithj0sYz9PgNwhs1rrynssBjTXTPXA9GiVeef9oRZ44WHX3bWrhMyukY3DQV-uM9tYpXTVI328kudTBvmc",
  alg: "RS256",
};
// A Node-generated P-256 public key (its signature is in web_apis_crypto.js).
export const ECDSA_PUBLIC_JWK = {
  kty: "EC",
  crv: "P-256",
  x: "Fi7qhpuZ6U-zO1KlnSviXkgO9cnx923xwYCbIEbNKtI",
  y: "MmZ2aLJ7hZg5O_MBZKrxHfWiWJZD5SpapSGwBgy5QFc",
};
// SubjectPublicKeyInfo and raw point of ECDSA_PUBLIC_JWK, as Node exports them.
export const EC_P256_SPKI_HEX =
  "3059301306072a8648ce3d020106082a8648ce3d03010703420004162eea869b99e94fb33b52a59d2be25e48" +
  "0ef5c9f1f76df1c1809b2046cd2ad232667668b27b8598393bf30164aaf11df5a2589643e52a5aa521b0060c" +
  "b94057";
export const EC_P256_RAW_HEX =
  "04162eea869b99e94fb33b52a59d2be25e480ef5c9f1f76df1c1809b2046cd2ad232667668b27b8598393bf3" +
  "0164aaf11df5a2589643e52a5aa521b0060cb94057";
// A P-384 public key and its ECDSA/SHA-384 signature of "hello p384".
export const EC_P384_PUBLIC_JWK = {
  key_ops: ["verify"],
  ext: true,
  kty: "EC",
  x: "hKxgD_3TF4CJmdVj-Z4YPqDnJ7_mmCHg9lgY1vwc4Sd2Cm0p97SXNZKKB0-c7rP2",
  y: "p9TxQyA3k_SbWta99So-FQ32rkYFgLS2fZe4887ggI3qU0sNZP9nzCuA6piWIUjF",
  crv: "P-384",
};
export const EC_P384_SIGNATURE_HEX =
  "a1a5d3e3e229b2f9383b91cfabb6f194fe21e8c1c0c5708db499d923831b3d855c1693474e6937308d198557" +
  "9be17f7f7da4246957d17e294431363e2d292c64f83bc0fd935a33e71a69f76ef761416a005e7d722afd2f77" +
  "893b019696d38db0";
// AES-CTR, key 16 x 0x01, counter 16 x 0xff, length 2, 48 zero bytes: the counter wraps after one block.
export const AES_CTR_WRAP_HEX =
  "6ad77cdab9adb3bfed21ef94210e121ea89d87a7b33f50d840bb3da0b4c72fb78030b49a70ebcd2524fc9878" +
  "18e5a087";
// An Ed25519 pair (PKCS#8 and SPKI) and its signature of "hello ed".
export const ED25519_PKCS8_B64 = "MC4CAQAwBQYDK2VwBCIEIIyi+Lv6TsGJoaRorq/wTUSUtBZt68B2OZRHSymrnW0A";
export const ED25519_SPKI_B64 = "MCowBQYDK2VwAyEAd7R330cTlTIo7/LpaFK+DCLM78ZCLjtDCu2Y8Wi42dI=";
export const ED25519_SIGNATURE_HEX =
  "f084fbe7bb74f1ae17951a8c8448582ee89587e8d00f3949164929d01377d72a782322fb154ae8c8159846dd" +
  "769b953c83bb5f7633f232fe6ad3a6f87fe92809";
