//! Keeps tools/list small: every byte of it sits in the model's context on every turn.
//! Generated schemas carry keys a client needs no help from (`$schema`, integer `format`s,
//! `default: null`); output schemas also lose their prose, which the tool's text result and
//! the README already give.

use rmcp::model::{JsonObject, Tool};
use serde_json::Value;

/// Compacts a tool's input and output schemas in place.
pub fn compact(tool: &mut Tool) {
    let mut input = (*tool.input_schema).clone();
    inline_refs(&mut input);
    strip(&mut input, false);
    tool.input_schema = std::sync::Arc::new(input);
    if let Some(out) = &tool.output_schema {
        let mut out = (**out).clone();
        inline_refs(&mut out);
        strip(&mut out, true);
        tool.output_schema = Some(std::sync::Arc::new(out));
    }
}

/// Replaces `{"$ref": "#/$defs/X"}` with X itself and drops `$defs`: our types are not
/// recursive, and each definition is used about once, so this is shorter and simpler to read.
fn inline_refs(root: &mut JsonObject) {
    let Some(Value::Object(defs)) = root.remove("$defs") else {
        return;
    };
    for v in root.values_mut() {
        resolve(v, &defs, 0);
    }
}

fn resolve(v: &mut Value, defs: &JsonObject, depth: usize) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref")
                && let Some(def) = r.strip_prefix("#/$defs/").and_then(|n| defs.get(n))
                && depth < 8
            {
                let mut def = def.clone();
                resolve(&mut def, defs, depth + 1);
                o.remove("$ref");
                if let Value::Object(d) = def {
                    for (k, val) in d {
                        o.entry(k).or_insert(val);
                    }
                }
                return;
            }
            o.values_mut().for_each(|x| resolve(x, defs, depth));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| resolve(x, defs, depth)),
        _ => {}
    }
}

fn strip(obj: &mut JsonObject, prose_too: bool) {
    obj.remove("$schema");
    obj.remove("format");
    obj.remove("title");
    if obj.get("default") == Some(&Value::Null) {
        obj.remove("default");
    }
    if prose_too {
        // Output schemas describe what we send; bounds, prose and `required` only cost bytes.
        obj.remove("description");
        obj.remove("required");
        obj.remove("minimum");
        obj.remove("maximum");
    }
    for (key, v) in obj.iter_mut() {
        match (key.as_str(), v) {
            // Property names are data, not schema keywords: strip each property's schema, not the map.
            ("properties" | "$defs" | "patternProperties", Value::Object(props)) => {
                props.values_mut().for_each(|p| walk(p, prose_too));
            }
            (_, v) => walk(v, prose_too),
        }
    }
}

fn walk(v: &mut Value, prose_too: bool) {
    match v {
        Value::Object(o) => strip(o, prose_too),
        Value::Array(a) => a.iter_mut().for_each(|x| walk(x, prose_too)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strips_noise_but_keeps_structure() {
        let mut o = json!({
            "$schema": "x", "type": "object", "description": "d",
            "properties": {
                "format": {"type": "string", "description": "a property named format"},
                "n": {"type": ["integer", "null"], "format": "uint64", "minimum": 0, "default": null}
            },
            "required": ["format"]
        })
        .as_object()
        .unwrap()
        .clone();
        strip(&mut o, true);
        assert_eq!(
            Value::Object(o),
            json!({"type": "object", "properties": {"format": {"type": "string"}, "n": {"type": ["integer", "null"]}}})
        );
    }

    #[test]
    fn inlines_definitions() {
        let mut o = json!({
            "type": "object",
            "properties": {"s": {"$ref": "#/$defs/S"}, "o": {"anyOf": [{"$ref": "#/$defs/S"}, {"type": "null"}]}},
            "$defs": {"S": {"type": "string", "enum": ["a", "b"]}}
        })
        .as_object()
        .unwrap()
        .clone();
        inline_refs(&mut o);
        assert_eq!(
            Value::Object(o),
            json!({"type": "object", "properties": {"s": {"type": "string", "enum": ["a", "b"]}, "o": {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]}}})
        );
    }
}
