/** Unit tests run in parallel and need no lab; integration tests drive the real engine and real hosts. */
const ts = { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] };
const common = { transform: ts, testEnvironment: "node", testEnvironmentOptions: { globalsCleanup: "off" } };
module.exports = {
  // Integration tests bring up real hosts; the bound is per test, and unit tests finish in milliseconds.
  testTimeout: 30 * 60 * 1000,
  // The longest integration files first, whether or not jest's cache knows their durations.
  testSequencer: "<rootDir>/test/sequencer.js",
  projects: [
    {
      ...common,
      displayName: "unit",
      testMatch: ["<rootDir>/**/*.test.ts"],
      testPathIgnorePatterns: ["/node_modules/", "\\.integration\\.test\\.ts$"],
    },
    {
      ...common,
      displayName: "integration",
      testMatch: ["<rootDir>/**/*.integration.test.ts"],
    },
  ],
};
