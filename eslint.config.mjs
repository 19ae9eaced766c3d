// @ts-check
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "bin/", "coverage/", "reports/", "lab/toolchain/", "**/*.mjs", "**/*.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@pulumi": pulumi },
    rules: {
      // An Output inside a template literal renders as a warning string, never its value.
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      // Numbers in messages and shell lines are the normal case here.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
    },
  },
  {
    // Functions called from dynamic providers are serialized into the state and run by the engine later:
    // they load their modules themselves instead of capturing imports.
    files: ["components/host/driver.ts"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Tests load the program afresh per run (jest.isolateModules), which needs require().
    files: ["**/*.test.ts", "test/unit/program-harness.ts"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
