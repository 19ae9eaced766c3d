// The order jest starts test files in: the longest integration files first, so that the labs run side by
// side from the start and the run ends with the short ones. Jest's own order uses durations from its
// cache, which a fresh clone (CI) does not have: it would fall back to file size and start the drills,
// tiny files that run for many minutes, last. Seconds measured on the CI machine (2 cores), 2026-11-26.
const Sequencer = require("@jest/test-sequencer").default;

const expectedSeconds = {
  "drills-2.integration.test.ts": 2050,
  "drills-ha.integration.test.ts": 1700,
  "drills-ha-2.integration.test.ts": 1700,
  "drills-workers.integration.test.ts": 750,
  "drills-1.integration.test.ts": 750,
  "drills-kubernetes.integration.test.ts": 510,
  "control-plane.integration.test.ts": 420,
  "ha.integration.test.ts": 420,
  "vagrant.integration.test.ts": 110,
  "hosts.integration.test.ts": 110,
  "policy.integration.test.ts": 80,
  "interrupted-up.integration.test.ts": 60,
  "refusals.integration.test.ts": 35,
  "ssh-driver.integration.test.ts": 25,
  "engine.integration.test.ts": 20,
};

class LongestFirst extends Sequencer {
  sort(tests) {
    const weight = (t) => expectedSeconds[t.path.split("/").pop()] ?? 0;
    const known = tests.filter((t) => weight(t) > 0).sort((a, b) => weight(b) - weight(a));
    return [...known, ...super.sort(tests.filter((t) => weight(t) === 0))];
  }
}

module.exports = LongestFirst;
