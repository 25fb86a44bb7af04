//! The rules of the fields X-Ray describes beyond the required ones:
//! `namespace`, `origin`, `service`, `user`, `http`, `aws`, `sql`, the error
//! flags and `cause`, `annotations` and `metadata`.

use serde_json::{Map, Value};

use super::checker::{Checker, join};
use super::rules::{Rule, cut};

/// X-Ray indexes at most this many annotations.
const MAX_ANNOTATIONS: usize = 50;
/// Every `origin` X-Ray documents.
const ORIGINS: [&str; 9] = [
    "AWS::EC2::Instance",
    "AWS::ECS::Container",
    "AWS::ECS::EC2",
    "AWS::ECS::Fargate",
    "AWS::EKS::Container",
    "AWS::ElasticBeanstalk::Environment",
    "AWS::AppRunner::Service",
    "AWS::Lambda",
    "AWS::Lambda::Function",
];

impl Checker {
    /// `namespace`, `origin`, `service`, `user`, `http`, `aws`, `sql`.
    pub(super) fn described_fields(&mut self, doc: &Map<String, Value>, path: &str) {
        let at = |field: &str| join(path, field);
        if let Some(value) = doc.get("namespace")
            && let Some(namespace) = self.string(value, &at("namespace"), 250)
            && namespace != "aws"
            && namespace != "remote"
        {
            let detail = format!("{namespace:?} is not aws or remote");
            self.report(Rule::Namespace, &at("namespace"), detail);
        }
        if let Some(value) = doc.get("origin")
            && let Some(origin) = self.string(value, &at("origin"), 250)
            && !ORIGINS.contains(&origin)
        {
            let detail = format!("{origin:?} is not one of {ORIGINS:?}");
            self.report(Rule::Origin, &at("origin"), detail);
        }
        if let Some(value) = doc.get("service")
            && let Some(service) = self.object(value, &at("service"))
            && let Some(version) = service.get("version")
        {
            self.string(version, &at("service.version"), 250);
        }
        if let Some(value) = doc.get("user") {
            self.string(value, &at("user"), 250);
        }
        if let Some(value) = doc.get("http") {
            self.http(value, &at("http"));
        }
        for field in ["aws", "sql"] {
            if let Some(value) = doc.get(field) {
                self.object(value, &at(field));
            }
        }
    }

    fn http(&mut self, value: &Value, at: &str) {
        let Some(http) = self.object(value, at) else {
            return;
        };
        if let Some(request) = http.get("request") {
            let at = join(at, "request");
            if let Some(request) = self.object(request, &at) {
                for field in ["method", "url", "user_agent", "client_ip"] {
                    if let Some(value) = request.get(field) {
                        self.string(value, &join(&at, field), 250);
                    }
                }
                for field in ["x_forwarded_for", "traced"] {
                    if let Some(value) = request.get(field) {
                        self.boolean(value, &join(&at, field));
                    }
                }
            }
        }
        if let Some(response) = http.get("response") {
            let at = join(at, "response");
            if let Some(response) = self.object(response, &at) {
                if let Some(status) = response.get("status")
                    && !status.as_u64().is_some_and(|s| (100..=599).contains(&s))
                {
                    let detail = format!("{status} is not an integer HTTP status");
                    self.report(Rule::Http, &join(&at, "status"), detail);
                }
                if let Some(length) = response.get("content_length")
                    && !length.is_number()
                {
                    self.wrong_type(&join(&at, "content_length"), length, "a number");
                }
            }
        }
    }

    /// `error`, `fault`, `throttle` and `cause`.
    pub(super) fn errors(&mut self, doc: &Map<String, Value>, path: &str) {
        let mut flagged = false;
        for flag in ["error", "fault", "throttle"] {
            if let Some(value) = doc.get(flag) {
                flagged |= self.boolean(value, &join(path, flag));
            }
        }
        let Some(cause) = doc.get("cause") else {
            return;
        };
        let at = join(path, "cause");
        if !flagged {
            let detail = "a cause without error, fault or throttle set";
            self.report(Rule::Cause, &at, detail);
        }
        match cause {
            Value::String(_) => self.id(cause, &at, true),
            Value::Object(cause) => {
                if let Some(value) = cause.get("working_directory") {
                    self.string(value, &join(&at, "working_directory"), usize::MAX);
                }
                if let Some(value) = cause.get("paths") {
                    let at = join(&at, "paths");
                    for (i, path) in self.array(value, &at).iter().enumerate() {
                        self.string(path, &format!("{at}[{i}]"), usize::MAX);
                    }
                }
                if let Some(value) = cause.get("exceptions") {
                    let at = join(&at, "exceptions");
                    for (i, exception) in self.array(value, &at).iter().enumerate() {
                        self.exception(exception, &format!("{at}[{i}]"));
                    }
                }
            }
            other => {
                let detail = format!(
                    "{} is neither an exception id nor an object",
                    cut(&other.to_string())
                );
                self.report(Rule::Cause, &at, detail);
            }
        }
    }

    fn exception(&mut self, value: &Value, at: &str) {
        let Some(exception) = self.object(value, at) else {
            return;
        };
        // opentelemetry-aws 0.21 writes every exception id as zeros; X-Ray's
        // schema asks only for 16 characters.
        self.required(exception, at, "id", |c, v, at| c.id(v, at, true));
        for field in ["message", "type", "cause"] {
            if let Some(value) = exception.get(field) {
                self.string(value, &join(at, field), usize::MAX);
            }
        }
        if let Some(value) = exception.get("remote") {
            self.boolean(value, &join(at, "remote"));
        }
        for field in ["truncated", "skipped"] {
            if let Some(value) = exception.get(field) {
                self.integer(value, &join(at, field));
            }
        }
        if let Some(value) = exception.get("stack") {
            let at = join(at, "stack");
            for (i, frame) in self.array(value, &at).iter().enumerate() {
                let at = format!("{at}[{i}]");
                let Some(frame) = self.object(frame, &at) else {
                    continue;
                };
                for field in ["path", "label"] {
                    if let Some(value) = frame.get(field) {
                        self.string(value, &join(&at, field), usize::MAX);
                    }
                }
                if let Some(line) = frame.get("line") {
                    self.integer(line, &join(&at, "line"));
                }
            }
        }
    }

    pub(super) fn annotations(&mut self, value: &Value, at: &str) {
        let Some(annotations) = self.object(value, at) else {
            return;
        };
        if annotations.len() > MAX_ANNOTATIONS {
            let detail = format!("{} annotations, over {MAX_ANNOTATIONS}", annotations.len());
            self.report(Rule::TooManyAnnotations, at, detail);
        }
        for (key, value) in annotations {
            let at = format!("{at}[{key:?}]");
            let key_ok = (1..=500).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !key_ok {
                let detail = "keys are 1 to 500 ASCII letters, digits or _";
                self.report(Rule::AnnotationKey, &at, detail);
            }
            match value {
                Value::String(s) if s.chars().count() > 1000 => {
                    self.report(Rule::AnnotationValue, &at, "a string over 1000 characters");
                }
                Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
                other => {
                    let detail = format!(
                        "{} is not a string, number or boolean",
                        cut(&other.to_string())
                    );
                    self.report(Rule::AnnotationValue, &at, detail);
                }
            }
        }
    }

    pub(super) fn metadata(&mut self, value: &Value, at: &str) {
        let Some(namespaces) = self.object(value, at) else {
            return;
        };
        for (namespace, value) in namespaces {
            let at = format!("{at}[{namespace:?}]");
            if namespace.starts_with("AWS.") {
                let detail = "namespaces starting AWS. are reserved for AWS's SDKs";
                self.report(Rule::Metadata, &at, detail);
            }
            if !value.is_object() {
                let detail = format!(
                    "{} is not an object (a namespace of key-value pairs)",
                    cut(&value.to_string())
                );
                self.report(Rule::Metadata, &at, detail);
            }
        }
    }
}
