//! `infra/template.yaml` read as data, and the checks that tie it to the code:
//! the functions are the workspace's Lambda crates, each gets exactly the
//! environment variables `hogwarden_lambda::env` names, the table is store-aws's
//! `table_definition`, and each schedule sends its Lambda the task it expects.
//!
//! Every check returns the list of problems it found (empty when the template
//! agrees with the code), so tests can show both that the real template passes and
//! that a broken one is caught.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use hogwarden_store_aws::TableDefinition;
use serde::Deserialize;
use serde_norway::Value;

/// The template, relative to the workspace root.
pub const TEMPLATE: &str = "infra/template.yaml";

/// The crate every Lambda binary depends on (the environment contract lives there).
pub const LAMBDA_LIBRARY: &str = "hogwarden-lambda";

/// Which Lambda each scheduled task goes to, as (binary, task). The task names are
/// the `task` field of the Scheduler input the binaries deserialise.
pub const SCHEDULED_TASKS: [(&str, &str); 8] = [
    ("hogwarden-reverts", "sweep"),
    ("hogwarden-reverts", "remind"),
    ("hogwarden-reverts", "bulk_apply"),
    ("hogwarden-key-rotation", "key_check"),
    ("hogwarden-reviews", "quarterly_review"),
    ("hogwarden-reviews", "review_reminders"),
    ("hogwarden-reviews", "drift_check"),
    ("hogwarden-key-rotation", "token_rotation_check"),
];

/// The Scheduler context attributes each input carries, substituted per invocation.
pub const SCHEDULED_TIME: &str = "<aws.scheduler.scheduled-time>";
pub const EXECUTION_ID: &str = "<aws.scheduler.execution-id>";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root exists")
}

/// A parsed template. CloudFormation's short tags stay as `Value::Tagged`.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let root: Value = serde_norway::from_str(text).map_err(|e| format!("the template is not valid YAML: {e}"))?;
        if !root.is_mapping() {
            return Err("the template is not a mapping".to_owned());
        }
        Ok(Self { root })
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    /// The resources of one type, by logical id.
    pub fn resources(&self, kind: &str) -> BTreeMap<String, &Value> {
        let Some(resources) = self.root.get("Resources").and_then(Value::as_mapping) else { return BTreeMap::new() };
        resources
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .filter_map(|(id, r)| Some((id.as_str()?.to_owned(), r)))
            .collect()
    }

    /// Variable names set under `Globals.Function.Environment.Variables`.
    pub fn global_environment(&self) -> BTreeSet<String> {
        variable_names(self.root.get("Globals").and_then(|g| g.get("Function")))
    }

    /// The `AWS::Serverless::Function`s, with the binary each one runs.
    pub fn functions(&self) -> Result<Vec<Function>, String> {
        let mut out = Vec::new();
        for (id, resource) in self.resources("AWS::Serverless::Function") {
            let properties = resource.get("Properties");
            let code_uri = properties.and_then(|p| p.get("CodeUri")).and_then(Value::as_str).unwrap_or_default();
            let bin = bin_of_code_uri(code_uri)
                .ok_or_else(|| format!("{id}: CodeUri {code_uri:?} is not a cargo-lambda zip (../target/lambda/<binary>/bootstrap.zip)"))?;
            out.push(Function { logical_id: id, bin: bin.to_owned(), environment: variable_names(properties) });
        }
        Ok(out)
    }
}

/// One `AWS::Serverless::Function`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub logical_id: String,
    /// The binary whose cargo-lambda zip is its code.
    pub bin: String,
    /// Variables it sets itself (on top of the Globals).
    pub environment: BTreeSet<String>,
}

/// `../target/lambda/<bin>/bootstrap.zip` → `<bin>`.
fn bin_of_code_uri(code_uri: &str) -> Option<&str> {
    let bin = code_uri.strip_prefix("../target/lambda/")?.strip_suffix("/bootstrap.zip")?;
    (!bin.is_empty() && !bin.contains('/')).then_some(bin)
}

fn variable_names(function_properties: Option<&Value>) -> BTreeSet<String> {
    function_properties
        .and_then(|p| p.get("Environment"))
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .map(|vars| vars.keys().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The value of a short-form tag such as `!GetAtt X.Arn` or `!Ref X`.
fn tagged<'a>(value: &'a Value, tag: &str) -> Option<&'a str> {
    match value {
        Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == tag => t.value.as_str(),
        _ => None,
    }
}

/// The logical id in `!GetAtt <id>.Arn`.
fn arn_of(value: &Value) -> Option<&str> {
    tagged(value, "GetAtt")?.strip_suffix(".Arn")
}

// ---------------------------------------------------------------- workspace

/// A workspace member, as `cargo metadata` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crate {
    pub name: String,
    /// Its folder, relative to the workspace root (e.g. `functions/grants`).
    pub dir: String,
    pub bins: Vec<String>,
    pub dependencies: Vec<String>,
}

impl Crate {
    /// A Lambda: a crate under `functions/` with a binary, built on hogwarden-lambda.
    pub fn is_lambda(&self) -> bool {
        self.dir.starts_with("functions/") && !self.bins.is_empty() && self.dependencies.iter().any(|d| d == LAMBDA_LIBRARY)
    }
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<Target>,
    dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    kind: Option<String>,
}

/// The workspace's members (the root Cargo.toml's `members`), from `cargo metadata`.
pub fn workspace_crates(root: &Path) -> Result<Vec<Crate>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let metadata: Metadata = serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata's output: {e}"))?;
    let mut crates = Vec::new();
    for p in metadata.packages {
        let dir = p.manifest_path.parent().and_then(|d| d.strip_prefix(root).ok()).map(|d| d.to_string_lossy().into_owned());
        let bins = p.targets.iter().filter(|t| t.kind.iter().any(|k| k == "bin")).map(|t| t.name.clone()).collect();
        let dependencies = p.dependencies.into_iter().filter(|d| d.kind.is_none()).map(|d| d.name).collect();
        crates.push(Crate { name: p.name, dir: dir.unwrap_or_default(), bins, dependencies });
    }
    Ok(crates)
}

// ---------------------------------------------------------------- checks

/// Every function runs a binary of a workspace Lambda crate, and every Lambda crate
/// of the workspace is deployed.
pub fn check_functions(template: &Template, crates: &[Crate]) -> Vec<String> {
    let functions = match template.functions() {
        Ok(f) => f,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    for f in &functions {
        match crates.iter().find(|c| c.bins.contains(&f.bin)) {
            None => problems.push(format!("{}: no workspace crate has a binary named {}", f.logical_id, f.bin)),
            Some(c) if !c.is_lambda() => problems.push(format!(
                "{}: binary {} belongs to {} ({}), which is not a Lambda crate (under functions/, depending on {LAMBDA_LIBRARY})",
                f.logical_id, f.bin, c.name, c.dir
            )),
            Some(_) => {}
        }
    }
    for c in crates.iter().filter(|c| c.is_lambda()) {
        for bin in &c.bins {
            if !functions.iter().any(|f| &f.bin == bin) {
                problems.push(format!("Lambda crate {} ({}) has binary {bin}, which no function in the template deploys", c.name, c.dir));
            }
        }
    }
    problems
}

/// Each function's variables (the Globals plus its own) are exactly the names of
/// `variables`: every required one set, nothing it does not read.
pub fn check_environment(template: &Template, variables: &[(&str, bool)]) -> Vec<String> {
    let functions = match template.functions() {
        Ok(f) => f,
        Err(e) => return vec![e],
    };
    let known: BTreeSet<&str> = variables.iter().map(|(name, _)| *name).collect();
    let globals = template.global_environment();
    let mut problems = Vec::new();
    for f in &functions {
        let set: BTreeSet<&str> = globals.iter().chain(&f.environment).map(String::as_str).collect();
        for (name, required) in variables {
            if *required && !set.contains(name) {
                problems.push(format!("{}: required variable {name} is not set", f.logical_id));
            }
        }
        for name in set.difference(&known) {
            problems.push(format!("{}: sets {name}, which hogwarden_lambda::env does not name", f.logical_id));
        }
    }
    problems
}

/// A key schema as (attribute, HASH|RANGE) in order.
type Keys = Vec<(String, String)>;

fn template_keys(value: Option<&Value>) -> Keys {
    value
        .and_then(Value::as_sequence)
        .map(|elements| {
            elements
                .iter()
                .map(|e| {
                    let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                    (field("AttributeName"), field("KeyType"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn definition_keys(elements: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> Keys {
    elements.iter().map(|e| (e.attribute_name().to_owned(), e.key_type().as_str().to_owned())).collect()
}

/// The table resource equals `definition`: attributes, key schema, and each GSI's
/// name, keys and projection; billing on demand as `create_table` does.
pub fn check_table(template: &Template, definition: &TableDefinition) -> Vec<String> {
    let tables = template.resources("AWS::DynamoDB::Table");
    let [(id, table)] = tables.iter().collect::<Vec<_>>()[..] else {
        return vec![format!("the template must have exactly one AWS::DynamoDB::Table, it has {}", tables.len())];
    };
    let Some(properties) = table.get("Properties") else { return vec![format!("{id} has no Properties")] };
    let mut problems = Vec::new();

    if properties.get("BillingMode").and_then(Value::as_str) != Some("PAY_PER_REQUEST") {
        problems.push(format!("{id}: BillingMode must be PAY_PER_REQUEST, as create_table makes it"));
    }

    let attributes: BTreeSet<(String, String)> = properties
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .map(|a| {
            a.iter()
                .map(|d| {
                    let field = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                    (field("AttributeName"), field("AttributeType"))
                })
                .collect()
        })
        .unwrap_or_default();
    let expected_attributes: BTreeSet<(String, String)> =
        definition.attribute_definitions.iter().map(|d| (d.attribute_name().to_owned(), d.attribute_type().as_str().to_owned())).collect();
    if attributes != expected_attributes {
        problems.push(format!("{id}: AttributeDefinitions are {attributes:?}, table_definition has {expected_attributes:?}"));
    }

    let keys = template_keys(properties.get("KeySchema"));
    let expected_keys = definition_keys(&definition.key_schema);
    if keys != expected_keys {
        problems.push(format!("{id}: KeySchema is {keys:?}, table_definition has {expected_keys:?}"));
    }

    let indexes: BTreeMap<String, (Keys, String)> = properties
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .map(|gsis| {
            gsis.iter()
                .map(|g| {
                    let name = g.get("IndexName").and_then(Value::as_str).unwrap_or_default().to_owned();
                    let projection =
                        g.get("Projection").and_then(|p| p.get("ProjectionType")).and_then(Value::as_str).unwrap_or_default().to_owned();
                    (name, (template_keys(g.get("KeySchema")), projection))
                })
                .collect()
        })
        .unwrap_or_default();
    let expected_indexes: BTreeMap<String, (Keys, String)> = definition
        .global_secondary_indexes
        .iter()
        .map(|g| {
            let projection = g.projection().and_then(|p| p.projection_type()).map(|t| t.as_str().to_owned()).unwrap_or_default();
            (g.index_name().to_owned(), (definition_keys(g.key_schema()), projection))
        })
        .collect();
    for (name, expected) in &expected_indexes {
        match indexes.get(name) {
            None => problems.push(format!("{id}: index {name} is missing")),
            Some(found) if found != expected => {
                problems.push(format!("{id}: index {name} is {found:?}, table_definition has {expected:?}"));
            }
            Some(_) => {}
        }
    }
    for name in indexes.keys().filter(|n| !expected_indexes.contains_key(*n)) {
        problems.push(format!("{id}: index {name} is not in table_definition"));
    }
    problems
}

/// The Scheduler input every scheduled Lambda receives.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScheduledTask {
    pub task: String,
    pub scheduled_time: String,
    pub execution_id: String,
}

/// Each schedule targets a function with the input its binary expects, runs at its
/// time (no flexible window), retries into a dead-letter queue, and assumes a role
/// that may invoke that one function; each task of [`SCHEDULED_TASKS`] has one.
pub fn check_schedules(template: &Template) -> Vec<String> {
    let functions = match template.functions() {
        Ok(f) => f,
        Err(e) => return vec![e],
    };
    let roles = template.resources("AWS::IAM::Role");
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for (id, schedule) in template.resources("AWS::Scheduler::Schedule") {
        let properties = schedule.get("Properties");
        let mode = properties.and_then(|p| p.get("FlexibleTimeWindow")).and_then(|w| w.get("Mode")).and_then(Value::as_str);
        if mode != Some("OFF") {
            problems.push(format!("{id}: FlexibleTimeWindow.Mode must be OFF, is {mode:?}"));
        }
        let Some(target) = properties.and_then(|p| p.get("Target")) else {
            problems.push(format!("{id}: no Target"));
            continue;
        };
        for required in ["RetryPolicy", "DeadLetterConfig"] {
            if target.get(required).is_none() {
                problems.push(format!("{id}: the target has no {required}"));
            }
        }
        let Some(function) = target.get("Arn").and_then(arn_of).and_then(|f| functions.iter().find(|x| x.logical_id == f)) else {
            problems.push(format!("{id}: Target.Arn is not !GetAtt <a function>.Arn"));
            continue;
        };
        let expected_tasks: Vec<&str> = SCHEDULED_TASKS.iter().filter(|(bin, _)| *bin == function.bin).map(|(_, task)| *task).collect();
        if expected_tasks.is_empty() {
            problems.push(format!("{id}: targets {} ({}), which has no scheduled task", function.logical_id, function.bin));
            continue;
        }
        let input = target.get("Input").and_then(Value::as_str).unwrap_or_default();
        match serde_json::from_str::<ScheduledTask>(input) {
            Err(e) => problems.push(format!("{id}: Input {input:?} is not the scheduled task JSON: {e}")),
            Ok(task) => {
                let expected = ScheduledTask {
                    task: if expected_tasks.contains(&task.task.as_str()) { task.task.clone() } else { expected_tasks.join(" or ") },
                    scheduled_time: SCHEDULED_TIME.to_owned(),
                    execution_id: EXECUTION_ID.to_owned(),
                };
                if task != expected {
                    problems.push(format!("{id}: Input is {task:?}, {} expects {expected:?}", function.bin));
                }
                // What the Lambda receives once Scheduler substitutes the attributes,
                // read with the Lambdas' own type.
                let delivered = input.replace(SCHEDULED_TIME, "2030-01-01T00:00:00Z").replace(EXECUTION_ID, "bench-0001");
                match serde_json::from_str::<hogwarden_lambda::ScheduledInput>(&delivered) {
                    Err(e) => {
                        problems.push(format!("{id}: the delivered input {delivered:?} is not a hogwarden_lambda::ScheduledInput: {e}"))
                    }
                    Ok(delivered) if hogwarden_lambda::Task::parse(&delivered.task).is_none() => {
                        problems.push(format!("{id}: task {:?} is not a hogwarden_lambda::Task", delivered.task));
                    }
                    Ok(_) => {}
                }
                seen.push(task.task);
            }
        }
        match target.get("RoleArn").and_then(arn_of).and_then(|r| roles.get(r).map(|role| (r, role))) {
            None => problems.push(format!("{id}: Target.RoleArn is not !GetAtt <a role in the template>.Arn")),
            Some((role_id, role)) => {
                let invokes = invoked_functions(role);
                if invokes != [function.logical_id.as_str()] {
                    problems.push(format!(
                        "{id}: role {role_id} may invoke {invokes:?}; it must invoke only its target {}",
                        function.logical_id
                    ));
                }
            }
        }
    }
    for (bin, task) in SCHEDULED_TASKS {
        match seen.iter().filter(|t| *t == task).count() {
            1 => {}
            n => problems.push(format!("task {task} (for {bin}) is scheduled {n} times; it must be scheduled once")),
        }
    }
    problems
}

/// The functions a role's inline policies allow `lambda:InvokeFunction` on.
fn invoked_functions(role: &Value) -> Vec<&str> {
    let statements = role
        .get("Properties")
        .and_then(|p| p.get("Policies"))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|policy| policy.get("PolicyDocument")?.get("Statement")?.as_sequence())
        .flatten();
    let mut out = Vec::new();
    for statement in statements {
        let actions: Vec<&str> = match statement.get("Action") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Sequence(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !actions.iter().any(|a| *a == "lambda:InvokeFunction" || *a == "lambda:*" || *a == "*") {
            continue;
        }
        match statement.get("Resource") {
            Some(Value::Sequence(resources)) => out.extend(resources.iter().map(|r| arn_of(r).unwrap_or("<not a function ARN>"))),
            Some(r) => out.push(arn_of(r).unwrap_or("<not a function ARN>")),
            None => out.push("<no resource>"),
        }
    }
    out
}

// ---------------------------------------------------------------- routes

/// One HTTP API route of a function: `(method, path)` as the template declares it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub function: String,
    pub method: String,
    pub path: String,
}

impl Template {
    /// Every `HttpApi` event of every function.
    pub fn routes(&self) -> Vec<Route> {
        let mut out = Vec::new();
        for (id, resource) in self.resources("AWS::Serverless::Function") {
            let Some(events) = resource.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping) else { continue };
            for event in events.values() {
                if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                    continue;
                }
                let props = event.get("Properties");
                let method = props.and_then(|p| p.get("Method")).and_then(Value::as_str).unwrap_or("ANY").to_ascii_uppercase();
                let path = props.and_then(|p| p.get("Path")).and_then(Value::as_str).unwrap_or_default().to_owned();
                out.push(Route { function: id.clone(), method, path });
            }
        }
        out.sort();
        out
    }
}

/// Whether a template route (API Gateway syntax: `{param}` is one segment, a final
/// `{proxy+}` one or more) matches a concrete path.
pub fn route_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (i, p) in pattern.iter().enumerate() {
        if p.starts_with('{') && p.ends_with("+}") {
            return i == pattern.len() - 1 && path.len() > i;
        }
        match path.get(i) {
            Some(seg) if p.starts_with('{') && p.ends_with('}') && !seg.is_empty() => {}
            Some(seg) if seg == p => {}
            _ => return false,
        }
    }
    pattern.len() == path.len()
}

/// API Gateway's choice among matching routes: the one with the most literal
/// segments, then without a greedy variable.
pub fn most_specific<'a>(routes: &'a [Route], method: &str, path: &str) -> Option<&'a Route> {
    routes.iter().filter(|r| (r.method == method || r.method == "ANY") && route_matches(&r.path, path)).max_by_key(|r| {
        let literal = r.path.split('/').filter(|s| !s.starts_with('{')).count();
        (literal, !r.path.contains("+}"), r.method != "ANY")
    })
}

// ---------------------------------------------------------------- IAM

/// One statement of a function's inline policy, with `!If` branches taken as written
/// (the `true` branch; `AWS::NoValue` drops it). Resources are kept as written:
/// `!Ref X`, `!GetAtt X.Arn`, or the text of a `!Sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: String,
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// A value as the template writes it: a string, or `!Tag value`; `!Sub` keeps its text.
fn written(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = t.value.as_str()?;
            Some(if tag == "Sub" { inner.to_owned() } else { format!("!{tag} {inner}") })
        }
        _ => None,
    }
}

fn one_or_many(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => items.iter().filter_map(written).collect(),
        Some(v) => written(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// `*` is any run of characters, `?` one character, as IAM matches actions and ARNs.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Template {
    /// The statements of a function's inline policies (`Policies: [{Statement: …}]`).
    pub fn statements(&self, function: &str) -> Vec<Statement> {
        let functions = self.resources("AWS::Serverless::Function");
        let Some(policies) = functions.get(function).and_then(|f| f.get("Properties")).and_then(|p| p.get("Policies")) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for policy in policies.as_sequence().into_iter().flatten() {
            for statement in policy.get("Statement").and_then(Value::as_sequence).into_iter().flatten() {
                let statement = match statement {
                    // `!If [Condition, statement, !Ref AWS::NoValue]`
                    Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "If" => {
                        match t.value.as_sequence().and_then(|s| s.get(1)) {
                            Some(s) => s,
                            None => continue,
                        }
                    }
                    s => s,
                };
                out.push(Statement {
                    sid: statement.get("Sid").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    allow: statement.get("Effect").and_then(Value::as_str) == Some("Allow"),
                    actions: one_or_many(statement.get("Action")),
                    resources: one_or_many(statement.get("Resource")),
                });
            }
        }
        out
    }

    /// Whether a function's policy allows `action` on `resource` (written as the
    /// template writes resources): some Allow matches and no Deny does.
    pub fn allows(&self, function: &str, action: &str, resource: &str) -> bool {
        let statements = self.statements(function);
        let matches = |s: &Statement| {
            s.actions.iter().any(|a| glob_matches(a, action)) && s.resources.iter().any(|r| r == "*" || glob_matches(r, resource))
        };
        statements.iter().any(|s| s.allow && matches(s)) && !statements.iter().any(|s| !s.allow && matches(s))
    }
}

/// The unauthenticated route anyone on the internet can call.
pub const WEBHOOK_ROUTE: (&str, &str) = ("POST", "/webhooks/{provider}");

/// A secret's ARN as the template writes it in a `!Sub`, with Secrets Manager's
/// six-character suffix.
pub fn secret_arn(name: &str) -> String {
    format!("arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{name}-AbCdEf")
}

/// Secrets Manager actions that change a secret or who may read it.
pub const SECRET_WRITES: [&str; 8] = [
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
    "secretsmanager:UpdateSecret",
    "secretsmanager:CreateSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:RestoreSecret",
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:RotateSecret",
];

/// The internet-facing webhook runs in a function of its own whose role reads the
/// webhook secrets and may write only what a leak response writes: a managed
/// project secret key's rotation and table items (no index, no delete). It can never
/// change the secrets that authenticate deliveries, GitHub's token, project tokens or
/// the PostHog key.
pub fn check_webhook_privileges(template: &Template) -> Vec<String> {
    let routes = template.routes();
    let Some(webhook) = routes.iter().find(|r| r.method == WEBHOOK_ROUTE.0 && r.path == WEBHOOK_ROUTE.1) else {
        return vec![format!("no function serves {} {}", WEBHOOK_ROUTE.0, WEBHOOK_ROUTE.1)];
    };
    let f = webhook.function.as_str();
    let mut problems = Vec::new();
    for other in routes.iter().filter(|r| r.function == f && r != &webhook) {
        problems.push(format!(
            "{f} serves the unauthenticated webhook and also {} {}: give the webhook a function of its own",
            other.method, other.path
        ));
    }
    for (id, schedule) in template.resources("AWS::Scheduler::Schedule") {
        if schedule.get("Properties").and_then(|p| p.get("Target")).and_then(|t| t.get("Arn")).and_then(arn_of) == Some(f) {
            problems.push(format!("{f} serves the webhook and is also the target of schedule {id}"));
        }
    }
    for (id, permission) in template.resources("AWS::Lambda::Permission") {
        if permission.get("Properties").and_then(|p| p.get("FunctionName")).and_then(arn_of) == Some(f) {
            problems.push(format!("{f} serves the webhook and may also be invoked through {id}"));
        }
    }
    let protected = [
        ("the PostHog key", "!Ref PostHogKeySecret".to_owned()),
        ("a webhook secret", secret_arn("hogwarden/webhooks/github")),
        ("GitHub's token", secret_arn("hogwarden/github-token")),
        ("a project token", secret_arn("hogwarden/project-token/1")),
    ];
    for (what, arn) in &protected {
        for action in SECRET_WRITES {
            if template.allows(f, action, arn) {
                problems.push(format!("{f} (the webhook) may {action} on {what} ({arn})"));
            }
        }
    }
    for action in ["secretsmanager:CreateSecret", "secretsmanager:DeleteSecret"] {
        if template.allows(f, action, &secret_arn("hogwarden/flags-key")) {
            problems.push(format!("{f} (the webhook) may {action} under hogwarden/"));
        }
    }
    for (what, arn) in &protected[..3] {
        if !template.allows(f, "secretsmanager:GetSecretValue", arn) {
            problems.push(format!("{f} (the webhook) cannot read {what} ({arn}), which the leak response needs"));
        }
    }
    for statement in template.statements(f).iter().filter(|s| s.allow) {
        for action in statement.actions.iter().filter(|a| a.starts_with("dynamodb:")) {
            if !["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"].contains(&action.as_str()) {
                problems.push(format!("{f} (the webhook) may {action}; a leak response only reads, queries and puts items"));
            }
        }
        if statement.actions.iter().any(|a| a.starts_with("dynamodb:")) {
            for resource in statement.resources.iter().filter(|r| r.contains("/index/") || r.as_str() == "*") {
                problems.push(format!("{f} (the webhook) may use {resource}; a leak response needs no index"));
            }
        }
    }
    problems
}

/// Every permission that lets Secrets Manager invoke a function names the secrets
/// (`SourceArn`) and the account (`SourceAccount`) it comes from.
pub fn check_invoke_permissions(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, permission) in template.resources("AWS::Lambda::Permission") {
        let properties = permission.get("Properties");
        let get = |key: &str| properties.and_then(|p| p.get(key)).and_then(written);
        if get("Principal").as_deref() != Some("secretsmanager.amazonaws.com") {
            continue;
        }
        if get("SourceAccount").as_deref() != Some("!Ref AWS::AccountId") {
            problems.push(format!("{id}: Secrets Manager may invoke it without SourceAccount: AWS::AccountId"));
        }
        match get("SourceArn") {
            Some(arn) if arn.contains(":secretsmanager:") && arn.contains(":secret:") && !arn.ends_with(":secret:*") => {}
            Some(arn) => problems.push(format!("{id}: SourceArn {arn} does not name this stack's secrets")),
            None => problems.push(format!("{id}: Secrets Manager may invoke it for any secret (no SourceArn)")),
        }
    }
    problems
}

// ---------------------------------------------------------------- front end headers

/// A Content-Security-Policy as directive name → sources.
pub fn csp_directives(policy: &str) -> BTreeMap<String, Vec<String>> {
    policy
        .split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.map(str::to_owned).collect()))
        })
        .collect()
}

/// What any Content-Security-Policy of Hogwarden's pages must say, whatever serves
/// them: scripts from the origin and WebAssembly only (no inline script, no eval),
/// no plugins, no `<base>`, never framed. An empty list when it does.
pub fn csp_problems(policy: &str) -> Vec<String> {
    let d = csp_directives(policy);
    let mut problems = Vec::new();
    let expect = |name: &str, sources: &[&str], problems: &mut Vec<String>| {
        let got: Vec<&str> = d.get(name).map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default();
        if got != sources {
            problems.push(format!("{name} is {got:?}, not {sources:?}"));
        }
    };
    expect("script-src", &["'self'", "'wasm-unsafe-eval'"], &mut problems);
    expect("object-src", &["'none'"], &mut problems);
    expect("base-uri", &["'none'"], &mut problems);
    expect("frame-ancestors", &["'none'"], &mut problems);
    expect("default-src", &["'self'"], &mut problems);
    if d.get("connect-src").is_none_or(|c| c.first().map(String::as_str) != Some("'self'")) {
        problems.push(format!("connect-src does not start with 'self': {:?}", d.get("connect-src")));
    }
    for word in ["'unsafe-inline'", "'unsafe-eval'", "data:", "*"] {
        for (name, sources) in &d {
            if sources.iter().any(|s| s == word) && !(word == "data:" && name == "img-src") {
                problems.push(format!("{name} allows {word}"));
            }
        }
    }
    problems
}

/// Every cache behaviour of the front end's distribution answers with a response
/// headers policy of this template whose Content-Security-Policy passes
/// [`csp_problems`] and also lets the page reach API Gateway.
pub fn check_web_headers(template: &Template) -> Vec<String> {
    let distributions = template.resources("AWS::CloudFront::Distribution");
    let policies = template.resources("AWS::CloudFront::ResponseHeadersPolicy");
    let mut problems = Vec::new();
    if distributions.is_empty() {
        problems.push("the template has no CloudFront distribution".to_owned());
    }
    for (id, distribution) in distributions {
        let config = distribution.get("Properties").and_then(|p| p.get("DistributionConfig"));
        let mut behaviours: Vec<(String, &Value)> = Vec::new();
        if let Some(b) = config.and_then(|c| c.get("DefaultCacheBehavior")) {
            behaviours.push(("DefaultCacheBehavior".to_owned(), b));
        }
        for b in config.and_then(|c| c.get("CacheBehaviors")).and_then(Value::as_sequence).into_iter().flatten() {
            behaviours.push((format!("CacheBehavior {}", b.get("PathPattern").and_then(Value::as_str).unwrap_or("?")), b));
        }
        for (name, behaviour) in behaviours {
            let Some(policy_id) = behaviour.get("ResponseHeadersPolicyId").and_then(|v| tagged(v, "Ref")) else {
                problems.push(format!(
                    "{id} {name}: its ResponseHeadersPolicyId is not one of this template's policies (a managed policy sets no CSP)"
                ));
                continue;
            };
            let Some(policy) = policies.get(policy_id) else {
                problems.push(format!("{id} {name}: {policy_id} is not an AWS::CloudFront::ResponseHeadersPolicy"));
                continue;
            };
            let csp = policy
                .get("Properties")
                .and_then(|p| p.get("ResponseHeadersPolicyConfig"))
                .and_then(|c| c.get("SecurityHeadersConfig"))
                .and_then(|s| s.get("ContentSecurityPolicy"));
            let text = csp.and_then(|c| c.get("ContentSecurityPolicy")).and_then(written);
            let Some(text) = text else {
                problems.push(format!("{policy_id}: no ContentSecurityPolicy"));
                continue;
            };
            if csp.and_then(|c| c.get("Override")).and_then(Value::as_bool) != Some(true) {
                problems.push(format!("{policy_id}: the CSP must override whatever the origin sends"));
            }
            problems.extend(csp_problems(&text).into_iter().map(|p| format!("{policy_id}: {p}")));
            let connect = csp_directives(&text).remove("connect-src").unwrap_or_default();
            if !connect.iter().any(|s| s.contains(".execute-api.")) {
                problems.push(format!("{policy_id}: connect-src {connect:?} does not allow API Gateway, so the app cannot call the API"));
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}
