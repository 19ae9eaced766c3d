// Checks of etcd's mutual TLS, done with the real openssl and etcdctl against the real members.
import * as fs from "fs";
import { paths, ports, unit } from "../components/etcd/facts";
import * as os from "os";
import * as path from "path";
import { peerCommonName } from "../components/etcd/render";
import { shellCommand, shellQuote } from "../components/host/shell";
import { run } from "../workstation/lab";
import type { DrillContext } from "./runner";
import type { StepRecord } from "./report";

const members = (ctx: DrillContext) =>
  ctx.config.etcd.members.map((name) => ctx.config.hosts.find((h) => h.name === name)!);

async function hostFile(ctx: DrillContext, host: string, file: string): Promise<string> {
  const r = await ctx.ssh(host, `cat ${file}`);
  if (r.code !== 0) throw new Error(`cannot read ${file} on ${host}: ${r.stderr.trim()}`);
  return r.stdout;
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "rwk-tls-check-"));
}

/** `openssl verify` accepts every member's serving and peer certificate against the CA; SANs are right. */
export async function expectLeavesVerify(ctx: DrillContext): Promise<void> {
  const dir = tmpDir();
  try {
    const ca = caFile(ctx);
    for (const h of members(ctx)) {
      for (const kind of ["server", "peer"]) {
        const file = path.join(dir, `${h.name}-${kind}.crt`);
        fs.writeFileSync(
          file,
          await hostFile(ctx, h.name, kind === "server" ? paths.serverCert : paths.peerCert),
        );
        const verify = await run(["openssl", "verify", "-CAfile", ca, file]);
        if (verify.code !== 0 || !verify.stdout.includes(": OK")) {
          throw new Error(
            `openssl verify rejects ${h.name}'s ${kind} certificate: ${verify.stdout}${verify.stderr}`,
          );
        }
        const sans = (await run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", file])).stdout;
        for (const want of [
          `DNS:${h.name}`,
          "DNS:localhost",
          `IP Address:${h.address}`,
          "IP Address:127.0.0.1",
        ]) {
          if (!sans.includes(want))
            throw new Error(`${h.name}'s ${kind} certificate lacks SAN ${want}: ${sans.trim()}`);
        }
      }
    }
    ctx.note(
      `openssl verify: the serving and peer certificates of ${members(ctx).length} members are signed by the CA, with SANs host name, address, localhost, 127.0.0.1`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Private keys on the hosts are 0600 and owned by etcd. */
export async function expectKeyModes(ctx: DrillContext): Promise<void> {
  for (const h of members(ctx)) {
    const r = await ctx.ssh(h.name, shellCommand("stat", "-c", "%n %a %U", paths.serverKey, paths.peerKey));
    const lines = r.stdout.trim().split("\n");
    if (r.code !== 0 || lines.length !== 2 || lines.some((l) => !l.endsWith(" 600 etcd"))) {
      throw new Error(`keys on ${h.name} are not 0600 etcd: ${r.stdout}${r.stderr}`);
    }
  }
  ctx.note("every private key on the hosts is mode 0600, owned by etcd");
}

/** The operator certificate works; plain HTTP, no certificate and another CA's certificate are refused. */
export async function expectClientAuth(ctx: DrillContext): Promise<void> {
  const h = members(ctx)[0]!;
  const https = `https://${h.address}:${ports.client}`;
  await ctx.etcd.put("/drill/check/operator", "ok");
  ctx.note("etcdctl with the operator's certificate: put succeeds");
  const dir = tmpDir();
  try {
    const ca = caFile(ctx);
    // Another CA, made here with openssl: its client certificate must not get in.
    const o = (f: string) => path.join(dir, f);
    const openssl = async (args: string[]) => {
      const r = await run(["openssl", ...args]);
      if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
    };
    // A new P-256 key and, from it, a request (or with -x509, a self-signed certificate).
    const newKey = (key: string, out: string, subject: string, ...extra: string[]) =>
      openssl([
        "req",
        ...extra,
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        o(key),
        "-out",
        o(out),
        "-subj",
        subject,
      ]);
    await newKey("other-ca.key", "other-ca.crt", "/CN=another CA", "-x509", "-days", "1");
    await newKey("intruder.key", "intruder.csr", "/CN=operator");
    await openssl([
      "x509",
      "-req",
      "-in",
      o("intruder.csr"),
      "-CA",
      o("other-ca.crt"),
      "-CAkey",
      o("other-ca.key"),
      "-CAcreateserial",
      "-out",
      o("intruder.crt"),
      "-days",
      "1",
    ]);
    const attempts: [string, string[]][] = [
      ["a plain-HTTP client", [`--endpoints=http://${h.address}:${ports.client}`]],
      ["a client without a certificate", [`--endpoints=${https}`, `--cacert=${ca}`]],
      [
        "a client with a certificate from another CA",
        [
          `--endpoints=${https}`,
          `--cacert=${ca}`,
          `--cert=${o("intruder.crt")}`,
          `--key=${o("intruder.key")}`,
        ],
      ],
    ];
    for (const [who, args] of attempts) {
      const r = await run(
        [
          ...ctx.access,
          "etcdctl",
          "--dial-timeout=2s",
          "--command-timeout=3s",
          ...args,
          "put",
          "/drill/check/intruder",
          "x",
        ],
        { timeoutMs: 20_000 },
      );
      if (r.code === 0) throw new Error(`${who} could write to etcd`);
      ctx.note(`${who} is refused: \`${r.stderr.trim().split("\n").pop() ?? ""}\``.replace(/\s+/g, " "));
    }
    // The peer port is for members only: a member's peer certificate gets etcd's /members there; the
    // operator's certificate, from the same CA, and no certificate at all get no answer. Asked from a
    // member's host with its own files, and from the workstation, so the check is shown able to tell
    // them apart.
    const request = "GET /members HTTP/1.0\r\n\r\n";
    const answered = (out: string) => /^HTTP\/1\.[01] 200/m.test(out);
    const peer = members(ctx).find((m) => m.name !== h.name) ?? h;
    const sClient = (caFile: string, extra: string[]) => [
      "openssl",
      "s_client",
      "-quiet",
      "-connect",
      `${h.address}:${ports.peer}`,
      "-CAfile",
      caFile,
      ...extra,
    ];
    const fromMember = await ctx.ssh(
      peer.name,
      `${shellCommand(...sClient(paths.ca, ["-cert", paths.peerCert, "-key", paths.peerKey]))} <<<${shellQuote(request)}`,
    );
    if (!answered(fromMember.stdout)) {
      throw new Error(
        `the peer port of ${h.name} does not answer ${peer.name}'s peer certificate: ${fromMember.stderr.trim()}`,
      );
    }
    const peerGet = (extra: string[]) =>
      run([...ctx.access, ...sClient(ca, extra)], { input: request, timeoutMs: 10_000 });
    for (const [who, extra] of [
      ["the operator's client certificate (same CA)", opensslClientArgs(ctx).slice(2)],
      ["a TLS client without a certificate", []],
    ] as const) {
      const r = await peerGet([...extra]);
      if (answered(r.stdout)) throw new Error(`the peer port answered ${who}`);
      ctx.note(`the peer port refuses ${who}: \`${lastLine(r.stderr)}\``);
    }
    ctx.note(
      `the peer port answers a member's peer certificate (CN ${peerCommonName}, from ${peer.name}): /members returned 200`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const lastLine = (text: string) => (text.trim().split("\n").pop() ?? "").replace(/\s+/g, " ");

const keyPattern = /BEGIN (EC |RSA |OPENSSH |ENCRYPTED |)PRIVATE KEY/;

/** No private key in plain text in the state file or in what `pulumi up` printed. */
export function expectNoPlaintextKeys(ctx: DrillContext, step: StepRecord): void {
  const state = fs.readFileSync(ctx.stateFile(), "utf8");
  if (keyPattern.test(state))
    throw new Error(`the state file ${ctx.stateFile()} holds a private key in plain text`);
  if (!state.includes("ciphertext")) throw new Error("the state file has no encrypted secrets at all");
  if (keyPattern.test(step.output)) throw new Error("pulumi up printed a private key");
  ctx.note("no private key in plain text in the state file or in the engine's output");
}

/** The serial number of the certificate each member serves on its client port right now. */
export async function servedSerials(ctx: DrillContext): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const h of members(ctx)) {
    const r = await run(
      [
        ...ctx.access,
        "openssl",
        "s_client",
        "-connect",
        `${h.address}:${ports.client}`,
        ...opensslClientArgs(ctx),
      ],
      {
        input: "",
        timeoutMs: 10_000,
      },
    );
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
    if (!pem) throw new Error(`${h.name} served no certificate: ${r.stderr.trim()}`);
    const serial = (await run(["openssl", "x509", "-noout", "-serial"], { input: pem })).stdout.trim();
    out.set(h.name, serial.replace("serial=", ""));
  }
  return out;
}

/** A file of the operator's TLS files that the runner wrote for etcdctl (`--cacert` ...). */
function tlsFile(ctx: DrillContext, flag: "--cacert" | "--cert" | "--key"): string {
  return ctx.tlsArgs.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1) ?? "";
}

const caFile = (ctx: DrillContext) => tlsFile(ctx, "--cacert");

function opensslClientArgs(ctx: DrillContext): string[] {
  return ["-CAfile", caFile(ctx), "-cert", tlsFile(ctx, "--cert"), "-key", tlsFile(ctx, "--key")];
}

/** When etcd last started on each member (to prove a step restarted nothing). */
export async function etcdStartTimes(ctx: DrillContext): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const h of members(ctx)) {
    const r = await ctx.ssh(h.name, `systemctl show ${unit} -p ExecMainStartTimestampMonotonic --value`);
    out.set(h.name, r.stdout.trim());
  }
  return out;
}
