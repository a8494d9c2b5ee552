// Offline checks of Kubernetes manifests, for launch/k8s/*.yaml (no API server needed, none reached).
//
//   node validate.mjs [--commands] FILE_OR_DIRECTORY...
//
// A directory stands for its *.yaml and *.yml files, not its subdirectories (as `kubectl apply -f DIR`). Every
// object is checked
//   - against the Kubernetes schema, with kubernetes-models' validate(): required fields, types, enums;
//   - for keys the schema does not know (a misspelled key is silently dropped by the API server): validate() allows
//     any extra key and kubernetes-models ships its schemas only as compiled code, so the keys come from its
//     TypeScript declarations (*.d.ts), which list every property of every type;
// and the set as a whole for what a schema cannot see: selectors match their pod templates, a Service selects some
// pod template, a StatefulSet's serviceName is a headless Service of the set, a Service's named targetPort and a
// probe's named port exist on the container, every Secret, ConfigMap and key referenced is defined, every volume
// mounted is declared, and every $(VAR) in a command, its args or an env value is defined before it is used.
// Each problem is printed as "FILE: KIND/NAME: PROBLEM"; the exit status is 1 when there is any, 2 on bad usage.
//
// --commands prints, instead of the summary, the command lines of the containers that run the ringformer image, as
// JSON ([{where, container, argv, env}], env: each variable's literal value or null when it comes from elsewhere),
// so that a test can parse them with ringformer's own command line parser.

import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const NODE_MODULES = join(dirname(fileURLToPath(import.meta.url)), "node_modules");
const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

// ---------------------------------------------------------------------------------------------------------------
// Reading: every object of every file, with where it came from.

function manifestFiles(paths) {
  const files = [];
  for (const path of paths) {
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) {
        if (/\.ya?ml$/.test(name) && statSync(join(path, name)).isFile()) files.push(join(path, name));
      }
    } else {
      files.push(path);
    }
  }
  return files;
}

/** The objects of one file. YAML 1.1, as kubectl reads it (0400 is octal there, and yes is true). */
function readObjects(file, report) {
  const objects = [];
  const documents = parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1" });
  for (const document of Array.isArray(documents) ? documents : [documents]) {
    for (const error of document.errors) report(file, "", `YAML: ${error.message.split("\n")[0]}`);
    if (document.errors.length > 0) continue;
    const object = document.toJS();
    if (object == null) continue;                          // an empty document, e.g. after a trailing ---
    if (typeof object !== "object" || Array.isArray(object)) {
      report(file, "", "a document that is not an object");
      continue;
    }
    objects.push({ file, object, where: `${object.kind ?? "?"}/${object.metadata?.name ?? "?"}` });
  }
  return objects;
}

// ---------------------------------------------------------------------------------------------------------------
// The schema: kubernetes-models' validate(), and its declarations for the keys.

async function modelClass(apiVersion, kind) {
  try {
    const module = await import(`kubernetes-models/${apiVersion}`);
    return typeof module[kind] === "function" ? module[kind] : null;
  } catch {
    return null;
  }
}

/**
 * The shapes kubernetes-models declares, read from its .d.ts files: each file's first interface as
 * {object: Map(key -> type)}; types nest as {array: type}, {map: type} (string keys), {ref: file} and {leaf: true}
 * (strings, numbers, booleans, enums, and anything not understood, which is never a reason to complain).
 */
class Declarations {
  constructor() {
    this.files = new Map();
  }

  /** The type declared in a file (by path, without .d.ts). */
  type(file) {
    if (!this.files.has(file)) {
      this.files.set(file, { leaf: true });                // placeholder while reading: types may be recursive
      this.files.set(file, this.read(file));
    }
    return this.files.get(file);
  }

  read(file) {
    if (!existsSync(`${file}.d.ts`)) return { leaf: true };
    const text = readFileSync(`${file}.d.ts`, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    const imports = new Map();
    for (const [, names, from] of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
      for (const name of names.split(",").map((n) => n.trim().split(/\s+as\s+/).pop()).filter(Boolean)) {
        imports.set(name, from.startsWith(".") ? resolve(dirname(file), from) : join(NODE_MODULES, from));
      }
    }
    const start = text.search(/export interface \w+[^{]*\{/);
    if (start < 0) return { leaf: true };                  // a type alias: Quantity, IntOrString, Time
    const tokens = tokenize(text.slice(text.indexOf("{", start)));
    return new TypeParser(tokens, imports).parse();
  }
}

function tokenize(text) {
  return [...text.matchAll(/"(?:[^"\\]|\\.)*"|[A-Za-z_$][\w$.]*|-?\d+(?:\.\d+)?|[{}[\]<>:;?|,()]/g)].map((m) => m[0]);
}

/** Reads one TypeScript type expression from tokens (the subset the declarations use). */
class TypeParser {
  constructor(tokens, imports) {
    this.tokens = tokens;
    this.at = 0;
    this.imports = imports;
  }

  next() { return this.tokens[this.at++]; }
  peek() { return this.tokens[this.at]; }

  parse() {
    const options = [this.single()];
    while (this.peek() === "|") {
      this.next();
      options.push(this.single());
    }
    return options.length === 1 ? options[0] : { leaf: true };
  }

  single() {
    const token = this.next();
    if (token === "{") return this.braces();
    if (token === "Array" && this.peek() === "<") {
      this.next();
      const of = this.parse();
      this.next();                                         // >
      return { array: of };
    }
    if (this.imports.has(token)) return { ref: this.imports.get(token) };
    return { leaf: true };                                 // string, number, a literal, an unknown name
  }

  braces() {
    if (this.peek() === "[") {                             // { [key: string]: T; }
      while (this.next() !== "]");
      this.next();                                         // :
      const of = this.parse();
      if (this.peek() === ";") this.next();
      this.next();                                         // }
      return { map: of };
    }
    const object = new Map();
    while (this.peek() !== "}" && this.peek() !== undefined) {
      const key = JSON.parse(this.next());
      if (this.peek() === "?") this.next();
      this.next();                                         // :
      object.set(key, this.parse());
      if (this.peek() === ";") this.next();
    }
    this.next();                                           // }
    return { object };
  }
}

/** Reports every key of value that its declared type does not have. */
function unknownKeys(value, type, path, declarations, problem) {
  while (type.ref) type = declarations.type(type.ref);
  if (value === null || typeof value !== "object") return;
  if (type.array && Array.isArray(value)) {
    value.forEach((item, i) => unknownKeys(item, type.array, `${path}[${i}]`, declarations, problem));
  } else if (type.map && !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value)) unknownKeys(item, type.map, `${path}.${key}`, declarations, problem);
  } else if (type.object && !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value)) {
      const known = type.object.get(key);
      if (known) {
        unknownKeys(item, known, path ? `${path}.${key}` : key, declarations, problem);
      } else {
        const near = closest(key, [...type.object.keys()]);
        problem(`unknown key '${key}' in ${path || "the object"}${near ? ` (did you mean '${near}'?)` : ""}`);
      }
    }
  }
}

function closest(word, candidates) {
  let best = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

function editDistance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

async function checkSchema(entry, declarations, problem) {
  const { apiVersion, kind } = entry.object;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    problem("apiVersion and kind must be strings");
    return;
  }
  const Model = await modelClass(apiVersion, kind);
  if (!Model) {
    problem(`no such kind in Kubernetes' schema: apiVersion ${apiVersion}, kind ${kind}`);
    return;
  }
  if (typeof entry.object.metadata?.name !== "string" || entry.object.metadata.name === "") {
    problem("metadata.name is missing");
  }
  try {
    new Model(entry.object).validate();
  } catch (error) {
    for (const e of error.errors ?? [{ instancePath: "", message: error.message }]) {
      const at = (e.instancePath || "/").slice(1).replace(/\//g, ".") || "the object";
      const detail = e.params?.allowedValues ? `: ${e.params.allowedValues.join(", ")}` : "";
      problem(`schema: ${at} ${e.message}${detail}`);
    }
  }
  unknownKeys(entry.object, { ref: join(NODE_MODULES, "kubernetes-models", apiVersion, kind) }, "", declarations,
      problem);
}

// ---------------------------------------------------------------------------------------------------------------
// The set: what refers to what.

function labelsMatch(selector, labels) {
  if (!selector || typeof selector !== "object") return false;
  const matchLabels = selector.matchLabels ?? (selector.matchExpressions ? {} : selector);   // a Service's selector is plain
  for (const [key, value] of Object.entries(matchLabels)) if (labels?.[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = labels != null && key in labels;
    if (operator === "In" && !(has && values.includes(labels[key]))) return false;
    if (operator === "NotIn" && has && values.includes(labels[key])) return false;
    if (operator === "Exists" && !has) return false;
    if (operator === "DoesNotExist" && has) return false;
  }
  return true;
}

function show(selector) {
  const labels = selector?.matchLabels ?? selector ?? {};
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",") || "(empty)";
}

/** Every pod template of the set: the workload it belongs to, its labels, its spec, its claim templates. */
function podTemplates(entries) {
  return entries
    .filter((e) => WORKLOADS.has(e.object.kind) && e.object.spec?.template)
    .map((e) => ({
      entry: e,
      labels: e.object.spec.template.metadata?.labels ?? {},
      spec: e.object.spec.template.spec ?? {},
      claims: (e.object.spec.volumeClaimTemplates ?? []).map((c) => c.metadata?.name),
    }));
}

function containersOf(podSpec) {
  return [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])];
}

function keysOf(object) {
  return new Set([...Object.keys(object?.data ?? {}), ...Object.keys(object?.stringData ?? {}),
    ...Object.keys(object?.binaryData ?? {})]);
}

function checkSet(entries, problem) {
  const byKind = (kind) => new Map(entries.filter((e) => e.object.kind === kind).map((e) => [e.object.metadata?.name, e]));
  const secrets = byKind("Secret");
  const configMaps = byKind("ConfigMap");
  const services = byKind("Service");
  const templates = podTemplates(entries);

  const seen = new Set();
  for (const e of entries) {
    const id = `${e.object.kind}/${e.object.metadata?.namespace ?? ""}/${e.object.metadata?.name}`;
    if (seen.has(id)) problem(e, "defined twice in the set");
    seen.add(id);
  }

  for (const t of templates) {
    const spec = t.entry.object.spec;
    if (!labelsMatch(spec.selector, t.labels)) {
      problem(t.entry, `selector ${show(spec.selector)} does not match its pod template's labels ${show(t.labels)}`);
    }
    if (t.entry.object.kind === "StatefulSet") {
      const service = services.get(spec.serviceName);
      if (spec.serviceName === undefined) {
        problem(t.entry, "serviceName is missing: a StatefulSet's pods get their DNS names from a headless Service");
      } else if (!service) {
        problem(t.entry, `serviceName '${spec.serviceName}' names no Service in the set`);
      } else if (service.object.spec?.clusterIP !== "None") {
        problem(t.entry, `serviceName '${spec.serviceName}' is not a headless Service (clusterIP: None)`);
      }
    }
    checkPodSpec(t, { secrets, configMaps }, (message) => problem(t.entry, message));
  }

  for (const e of entries.filter((e) => e.object.kind === "Service" && e.object.spec?.selector)) {
    const selected = templates.filter((t) => labelsMatch(e.object.spec.selector, t.labels));
    if (selected.length === 0) {
      problem(e, `selector ${show(e.object.spec.selector)} selects no pod template in the set`);
      continue;
    }
    for (const port of e.object.spec.ports ?? []) {
      if (typeof port.targetPort !== "string") continue;
      for (const t of selected) {
        const names = containersOf(t.spec).flatMap((c) => (c.ports ?? []).map((p) => p.name));
        if (!names.includes(port.targetPort)) {
          problem(e, `targetPort '${port.targetPort}' is not a named container port of ${t.entry.where} `
              + `(it has ${names.filter(Boolean).join(", ") || "none"})`);
        }
      }
    }
  }

  for (const e of entries.filter((e) => e.object.kind === "PodDisruptionBudget")) {
    if (!templates.some((t) => labelsMatch(e.object.spec?.selector, t.labels))) {
      problem(e, `selector ${show(e.object.spec?.selector)} selects no pod template in the set`);
    }
  }
}

function checkPodSpec(template, { secrets, configMaps }, problem) {
  const volumes = new Map((template.spec.volumes ?? []).map((v) => [v.name, v]));
  for (const volume of volumes.values()) {
    if (volume.secret) {
      referenced("Secret", secrets, volume.secret.secretName, (volume.secret.items ?? []).map((i) => i.key),
          volume.secret.optional, `volume '${volume.name}'`, problem);
    }
    if (volume.configMap) {
      referenced("ConfigMap", configMaps, volume.configMap.name, (volume.configMap.items ?? []).map((i) => i.key),
          volume.configMap.optional, `volume '${volume.name}'`, problem);
    }
  }
  for (const container of containersOf(template.spec)) {
    const where = `container '${container.name}'`;
    for (const mount of container.volumeMounts ?? []) {
      if (!volumes.has(mount.name) && !template.claims.includes(mount.name)) {
        problem(`${where} mounts volume '${mount.name}', which is neither a volume nor a volumeClaimTemplate`);
      }
    }
    const portNames = (container.ports ?? []).map((p) => p.name).filter(Boolean);
    for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
      const port = container[probe]?.httpGet?.port ?? container[probe]?.tcpSocket?.port;
      if (typeof port === "string" && !portNames.includes(port)) {
        problem(`${where}: ${probe} uses port '${port}', which is not one of its named ports`);
      }
    }
    // Variables: envFrom first (all of a ConfigMap's or Secret's keys), then env in order; Kubernetes expands
    // $(VAR) only to variables defined before, and leaves an unknown one as it is, silently.
    const defined = new Set();
    for (const source of container.envFrom ?? []) {
      const [kind, objects, ref] = source.secretRef ? ["Secret", secrets, source.secretRef]
          : ["ConfigMap", configMaps, source.configMapRef];
      if (!ref) continue;
      if (referenced(kind, objects, ref.name, [], ref.optional, `${where} envFrom`, problem)) {
        for (const key of keysOf(objects.get(ref.name).object)) defined.add((source.prefix ?? "") + key);
      }
    }
    for (const variable of container.env ?? []) {
      if (typeof variable.value === "string") {
        unexpanded(variable.value, defined, `${where} env ${variable.name}`, problem);
      }
      const from = variable.valueFrom ?? {};
      if (from.secretKeyRef) {
        referenced("Secret", secrets, from.secretKeyRef.name, [from.secretKeyRef.key], from.secretKeyRef.optional,
            `${where} env ${variable.name}`, problem);
      }
      if (from.configMapKeyRef) {
        referenced("ConfigMap", configMaps, from.configMapKeyRef.name, [from.configMapKeyRef.key],
            from.configMapKeyRef.optional, `${where} env ${variable.name}`, problem);
      }
      defined.add(variable.name);
    }
    for (const [field, words] of [["command", container.command], ["args", container.args]]) {
      for (const word of words ?? []) if (typeof word === "string") unexpanded(word, defined, `${where} ${field}`, problem);
    }
  }
}

/** Whether the object is in the set with every key; reports what is not. */
function referenced(kind, objects, name, keys, optional, where, problem) {
  if (optional) return objects.has(name);
  const object = objects.get(name);
  if (!object) {
    problem(`${where} refers to ${kind} '${name}', which is not in the set`);
    return false;
  }
  const present = keysOf(object.object);
  for (const key of keys) {
    if (!present.has(key)) problem(`${where} refers to key '${key}' of ${kind} '${name}', which has no such key`);
  }
  return true;
}

function unexpanded(text, defined, where, problem) {
  // Only names a variable can have: $((…)) in a shell script is left alone, by Kubernetes as here.
  for (const [, escape, name] of text.matchAll(/(\$?)\$\(([A-Za-z_][\w.-]*)\)/g)) {
    if (escape === "" && !defined.has(name)) problem(`${where} uses $(${name}), which is not defined before it`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// --commands: what the ringformer containers run.

function commands(entries) {
  return podTemplates(entries).flatMap((t) => containersOf(t.spec)
      .filter((c) => /(^|\/)ringformer(:|@|$)/.test(c.image ?? ""))
      .map((c) => ({
        where: `${basename(t.entry.file)}: ${t.entry.where}`,
        container: c.name,
        argv: [...(c.command ?? []), ...(c.args ?? [])],
        env: Object.fromEntries((c.env ?? []).map((v) => [v.name, typeof v.value === "string" ? v.value : null])),
      })));
}

// ---------------------------------------------------------------------------------------------------------------

async function main(argv) {
  const printCommands = argv[0] === "--commands";
  const paths = printCommands ? argv.slice(1) : argv;
  if (paths.length === 0 || paths.some((p) => !existsSync(p))) {
    console.error("usage: node validate.mjs [--commands] FILE_OR_DIRECTORY...  (each must exist)");
    return 2;
  }
  const problems = [];
  const report = (file, where, message) => problems.push(`${file}: ${where ? `${where}: ` : ""}${message}`);
  const files = manifestFiles(paths);
  const entries = files.flatMap((file) => readObjects(file, report));
  const declarations = new Declarations();
  for (const entry of entries) {
    await checkSchema(entry, declarations, (message) => report(entry.file, entry.where, message));
  }
  checkSet(entries, (entry, message) => report(entry.file, entry.where, message));

  for (const line of problems) console.error(line);
  if (printCommands) {
    console.log(JSON.stringify(commands(entries), null, 2));
  } else if (problems.length === 0) {
    console.log(`${entries.length} objects in ${files.length} files: no problems`);
  }
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
