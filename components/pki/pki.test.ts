import { allowedUses } from "./pki";

describe("allowedUses", () => {
  it.each([
    [["server"], ["digital_signature", "key_encipherment", "server_auth"]],
    [["client"], ["client_auth", "digital_signature", "key_encipherment"]],
    [
      ["server", "client"],
      ["client_auth", "digital_signature", "key_encipherment", "server_auth"],
    ],
  ] as const)("%j → %j", (usages, uses) => {
    expect(allowedUses([...usages])).toEqual(uses);
  });
});
