/** Unit tests run in parallel and need no lab; integration tests drive the real engine and real hosts. */
const ts = { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] };
module.exports = {
  projects: [
    {
      displayName: "unit",
      testMatch: ["<rootDir>/**/*.test.ts"],
      testPathIgnorePatterns: ["/node_modules/", "\\.integration\\.test\\.ts$"],
      transform: ts,
      testEnvironment: "node",
    },
    {
      displayName: "integration",
      testMatch: ["<rootDir>/**/*.integration.test.ts"],
      transform: ts,
      testEnvironment: "node",
      testTimeout: 30 * 60 * 1000,
    },
  ],
};
