//! Same names, same types: a component's imports from the contract and its `describe`/`run`
//! exports, compared with `plugin-sdk/wit/plugin.wit` as this forge was built with it.
//!
//! The host's linker refuses a component whose `forge:plugin/docker` `build` takes a
//! `string` where the contract has a `build-request`, but only when a step runs. Comparing
//! here lets `forge plugin build` and `inspect` say so first, naming the function and both
//! types. Types are compared structurally, as the component model does (a record's name
//! does not matter, its fields' names and types do); aliases (`use types.{level}`) are
//! followed on both sides.

use std::path::{Path, PathBuf};

use forge_contract::Interface;
use wit_parser::{
    Function, Handle, InterfaceId, PackageId, Resolve, Type, TypeDefKind, TypeId, WorldItem,
};

use crate::{CONTRACT_WIT, Error};

/// The contract, parsed.
pub(crate) struct Contract {
    resolve: Resolve,
    package: PackageId,
}

impl Contract {
    /// Parses [`CONTRACT_WIT`], which is compiled in (and parsed by this crate's tests).
    pub(crate) fn parse() -> Contract {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_str("plugin.wit", CONTRACT_WIT)
            .expect("the contract compiled into forge parses");
        Contract { resolve, package }
    }

    fn interface(&self, interface: Interface) -> Option<&wit_parser::Interface> {
        let id = self.resolve.packages[self.package]
            .interfaces
            .get(interface.name())?;
        Some(&self.resolve.interfaces[*id])
    }

    fn export(&self, name: &str) -> Option<&Function> {
        let world = self.resolve.packages[self.package]
            .worlds
            .get(forge_contract::WORLD)?;
        self.resolve.worlds[*world]
            .exports
            .values()
            .find_map(|item| match item {
                WorldItem::Function(f) if f.name == name => Some(f),
                _ => None,
            })
    }
}

/// A function whose type is not the contract's.
#[derive(Debug)]
pub(crate) struct Mismatch {
    function: String,
    found: String,
    /// The contract's type; `None` when the contract has no such function.
    expected: Option<String>,
    /// Where inside the types they differ, when the signatures read the same.
    detail: Option<String>,
}

impl Mismatch {
    /// The error for the component at `path`; `interface` is the import's full name, or
    /// `None` for an export.
    pub(crate) fn into_error(self, path: &Path, interface: Option<&str>) -> Error {
        let what = match interface {
            Some(interface) => format!("function `{}` of {interface}", self.function),
            None => format!("export `{}`", self.function),
        };
        let path = PathBuf::from(path);
        match self.expected {
            None => Error::NotInContract {
                path,
                what,
                found: self.found,
            },
            Some(expected) => Error::ContractType {
                path,
                what,
                found: self.found,
                expected,
                detail: self.detail,
            },
        }
    }
}

/// Checks every function `resolve`'s interface `id` (the component's import of
/// `interface`) has, against the contract's.
pub(crate) fn import(
    contract: &Contract,
    interface: Interface,
    resolve: &Resolve,
    id: InterfaceId,
) -> Result<(), Mismatch> {
    let theirs = contract.interface(interface);
    for (name, function) in &resolve.interfaces[id].functions {
        let Some(expected) = theirs.and_then(|i| i.functions.get(name)) else {
            return Err(Mismatch {
                function: name.clone(),
                found: signature(resolve, function),
                expected: None,
                detail: None,
            });
        };
        compare(resolve, function, &contract.resolve, expected)?;
    }
    Ok(())
}

/// Checks an exported function against the contract world's export of the same name
/// (other exports are not the host's business: it never calls them).
pub(crate) fn export(
    contract: &Contract,
    resolve: &Resolve,
    function: &Function,
) -> Result<(), Mismatch> {
    match contract.export(&function.name) {
        Some(expected) => compare(resolve, function, &contract.resolve, expected),
        None => Ok(()),
    }
}

fn compare(
    ours: &Resolve,
    function: &Function,
    theirs: &Resolve,
    expected: &Function,
) -> Result<(), Mismatch> {
    let difference = || -> Result<(), String> {
        if function.params.len() != expected.params.len() {
            return Err(format!(
                "{} parameters here, {} in the contract",
                function.params.len(),
                expected.params.len()
            ));
        }
        for (a, b) in function.params.iter().zip(&expected.params) {
            if a.name != b.name {
                return Err(format!(
                    "parameter `{}` here is `{}` in the contract",
                    a.name, b.name
                ));
            }
            same(ours, a.ty, theirs, b.ty).map_err(|e| format!("parameter `{}`: {e}", a.name))?;
        }
        match (function.result, expected.result) {
            (None, None) => Ok(()),
            (Some(a), Some(b)) => same(ours, a, theirs, b).map_err(|e| format!("result: {e}")),
            (a, b) => Err(format!(
                "result `{}` here, `{}` in the contract",
                a.map_or("none".into(), |t| show(ours, t)),
                b.map_or("none".into(), |t| show(theirs, t)),
            )),
        }
    };
    difference().map_err(|detail| {
        let found = signature(ours, function);
        let expected = signature(theirs, expected);
        // Spell out where they differ only when the signatures alone do not show it.
        let detail = (found == expected).then_some(detail);
        Mismatch {
            function: function.name.clone(),
            found,
            expected: Some(expected),
            detail,
        }
    })
}

/// Follows aliases (`type a = b`, `use x.{y}`) to the type they name.
fn resolve_alias(resolve: &Resolve, mut ty: Type) -> Type {
    while let Type::Id(id) = ty {
        match resolve.types[id].kind {
            TypeDefKind::Type(inner) => ty = inner,
            _ => break,
        }
    }
    ty
}

/// Whether `a` (in `ra`) and `b` (in `rb`) are the same type; else where they differ.
fn same(ra: &Resolve, a: Type, rb: &Resolve, b: Type) -> Result<(), String> {
    let (a, b) = (resolve_alias(ra, a), resolve_alias(rb, b));
    match (a, b) {
        (Type::Id(x), Type::Id(y)) => same_def(ra, x, rb, y),
        (Type::Id(_), _) | (_, Type::Id(_)) => Err(differ(ra, a, rb, b)),
        (x, y) if x == y => Ok(()),
        _ => Err(differ(ra, a, rb, b)),
    }
}

fn differ(ra: &Resolve, a: Type, rb: &Resolve, b: Type) -> String {
    format!("`{}` here, `{}` in the contract", show(ra, a), show(rb, b))
}

fn same_opt(ra: &Resolve, a: Option<Type>, rb: &Resolve, b: Option<Type>) -> Result<(), String> {
    match (a, b) {
        (None, None) => Ok(()),
        (Some(a), Some(b)) => same(ra, a, rb, b),
        _ => Err(format!(
            "`{}` here, `{}` in the contract",
            a.map_or("nothing".into(), |t| show(ra, t)),
            b.map_or("nothing".into(), |t| show(rb, t)),
        )),
    }
}

fn names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.map(String::as_str).collect::<Vec<_>>().join(", ")
}

fn same_def(ra: &Resolve, x: TypeId, rb: &Resolve, y: TypeId) -> Result<(), String> {
    let (da, db) = (&ra.types[x], &rb.types[y]);
    let title = |kind: &str| match &db.name {
        Some(name) => format!("{kind} `{name}`"),
        None => kind.to_owned(),
    };
    let whole = || differ(ra, Type::Id(x), rb, Type::Id(y));
    match (&da.kind, &db.kind) {
        (TypeDefKind::Record(a), TypeDefKind::Record(b)) => {
            let (na, nb) = (
                names(a.fields.iter().map(|f| &f.name)),
                names(b.fields.iter().map(|f| &f.name)),
            );
            if na != nb {
                return Err(format!(
                    "{} has fields {na} here, {nb} in the contract",
                    title("record")
                ));
            }
            for (fa, fb) in a.fields.iter().zip(&b.fields) {
                same(ra, fa.ty, rb, fb.ty)
                    .map_err(|e| format!("field `{}` of {}: {e}", fa.name, title("record")))?;
            }
            Ok(())
        }
        (TypeDefKind::Variant(a), TypeDefKind::Variant(b)) => {
            let (na, nb) = (
                names(a.cases.iter().map(|c| &c.name)),
                names(b.cases.iter().map(|c| &c.name)),
            );
            if na != nb {
                return Err(format!(
                    "{} has cases {na} here, {nb} in the contract",
                    title("variant")
                ));
            }
            for (ca, cb) in a.cases.iter().zip(&b.cases) {
                same_opt(ra, ca.ty, rb, cb.ty)
                    .map_err(|e| format!("case `{}` of {}: {e}", ca.name, title("variant")))?;
            }
            Ok(())
        }
        (TypeDefKind::Enum(a), TypeDefKind::Enum(b)) => {
            let (na, nb) = (
                names(a.cases.iter().map(|c| &c.name)),
                names(b.cases.iter().map(|c| &c.name)),
            );
            if na == nb {
                Ok(())
            } else {
                Err(format!(
                    "{} has cases {na} here, {nb} in the contract",
                    title("enum")
                ))
            }
        }
        (TypeDefKind::Flags(a), TypeDefKind::Flags(b)) => {
            let (na, nb) = (
                names(a.flags.iter().map(|f| &f.name)),
                names(b.flags.iter().map(|f| &f.name)),
            );
            if na == nb {
                Ok(())
            } else {
                Err(format!(
                    "{} has flags {na} here, {nb} in the contract",
                    title("flags")
                ))
            }
        }
        (TypeDefKind::Tuple(a), TypeDefKind::Tuple(b)) if a.types.len() == b.types.len() => a
            .types
            .iter()
            .zip(&b.types)
            .try_for_each(|(&ta, &tb)| same(ra, ta, rb, tb)),
        (TypeDefKind::Option(a), TypeDefKind::Option(b))
        | (TypeDefKind::List(a), TypeDefKind::List(b)) => same(ra, *a, rb, *b),
        (TypeDefKind::FixedLengthList(a, n), TypeDefKind::FixedLengthList(b, m)) if n == m => {
            same(ra, *a, rb, *b)
        }
        (TypeDefKind::Map(ka, va), TypeDefKind::Map(kb, vb)) => {
            same(ra, *ka, rb, *kb)?;
            same(ra, *va, rb, *vb)
        }
        (TypeDefKind::Result(a), TypeDefKind::Result(b)) => {
            same_opt(ra, a.ok, rb, b.ok)?;
            same_opt(ra, a.err, rb, b.err)
        }
        (TypeDefKind::Future(a), TypeDefKind::Future(b))
        | (TypeDefKind::Stream(a), TypeDefKind::Stream(b)) => same_opt(ra, *a, rb, *b),
        (TypeDefKind::Handle(Handle::Own(a)), TypeDefKind::Handle(Handle::Own(b)))
        | (TypeDefKind::Handle(Handle::Borrow(a)), TypeDefKind::Handle(Handle::Borrow(b))) => {
            same(ra, Type::Id(*a), rb, Type::Id(*b))
        }
        // Resources are nominal: the same resource of the same interface.
        (TypeDefKind::Resource, TypeDefKind::Resource) if da.name == db.name => Ok(()),
        _ => Err(whole()),
    }
}

/// `func(request: build-request) -> result<image, docker-error>`.
fn signature(resolve: &Resolve, function: &Function) -> String {
    let params: Vec<String> = function
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, show(resolve, p.ty)))
        .collect();
    let mut out = format!("func({})", params.join(", "));
    if let Some(result) = function.result {
        out.push_str(" -> ");
        out.push_str(&show(resolve, result));
    }
    out
}

/// A type as WIT spells it: named types by name, anonymous ones by structure.
fn show(resolve: &Resolve, ty: Type) -> String {
    let id = match ty {
        Type::Bool => return "bool".into(),
        Type::U8 => return "u8".into(),
        Type::U16 => return "u16".into(),
        Type::U32 => return "u32".into(),
        Type::U64 => return "u64".into(),
        Type::S8 => return "s8".into(),
        Type::S16 => return "s16".into(),
        Type::S32 => return "s32".into(),
        Type::S64 => return "s64".into(),
        Type::F32 => return "f32".into(),
        Type::F64 => return "f64".into(),
        Type::Char => return "char".into(),
        Type::String => return "string".into(),
        Type::ErrorContext => return "error-context".into(),
        Type::Id(id) => id,
    };
    let def = &resolve.types[id];
    if let Some(name) = &def.name {
        return name.clone();
    }
    let opt = |t: Option<Type>| t.map_or("_".to_owned(), |t| show(resolve, t));
    match &def.kind {
        TypeDefKind::Type(t) => show(resolve, *t),
        TypeDefKind::List(t) => format!("list<{}>", show(resolve, *t)),
        TypeDefKind::FixedLengthList(t, n) => format!("list<{}, {n}>", show(resolve, *t)),
        TypeDefKind::Option(t) => format!("option<{}>", show(resolve, *t)),
        TypeDefKind::Map(k, v) => format!("map<{}, {}>", show(resolve, *k), show(resolve, *v)),
        TypeDefKind::Result(r) => match (r.ok, r.err) {
            (None, None) => "result".to_owned(),
            (Some(ok), None) => format!("result<{}>", show(resolve, ok)),
            (ok, err) => format!("result<{}, {}>", opt(ok), opt(err)),
        },
        TypeDefKind::Tuple(t) => {
            let types: Vec<String> = t.types.iter().map(|&t| show(resolve, t)).collect();
            format!("tuple<{}>", types.join(", "))
        }
        TypeDefKind::Handle(Handle::Own(r)) => show(resolve, Type::Id(*r)),
        TypeDefKind::Handle(Handle::Borrow(r)) => {
            format!("borrow<{}>", show(resolve, Type::Id(*r)))
        }
        TypeDefKind::Future(t) => {
            t.map_or("future".into(), |t| format!("future<{}>", show(resolve, t)))
        }
        TypeDefKind::Stream(t) => {
            t.map_or("stream".into(), |t| format!("stream<{}>", show(resolve, t)))
        }
        other => other.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(wit: &str) -> (Resolve, PackageId) {
        let mut resolve = Resolve::default();
        let package = resolve.push_str("t.wit", wit).expect("test WIT parses");
        (resolve, package)
    }

    fn function<'a>(resolve: &'a Resolve, package: PackageId, name: &str) -> &'a Function {
        let id = resolve.packages[package].interfaces["i"];
        &resolve.interfaces[id].functions[name]
    }

    const CONTRACT: &str = "package t:t;\ninterface i {\n  record req { context: list<u8>, target: option<string> }\n  variant err { down(string), other }\n  resource creds { host: func() -> string; }\n  build: func(request: req) -> result<u64, err>;\n  push: func(c: borrow<creds>);\n}\n";

    fn check(component: &str, name: &str) -> Result<(), Mismatch> {
        let (theirs, tp) = parse(CONTRACT);
        let (ours, op) = parse(component);
        compare(
            &ours,
            function(&ours, op, name),
            &theirs,
            function(&theirs, tp, name),
        )
    }

    #[test]
    fn the_same_wit_matches_whatever_the_names_of_records() {
        check(CONTRACT, "build").expect("identical");
        check(CONTRACT, "push").expect("identical");
        let renamed = CONTRACT
            .replace("record req", "record body")
            .replace("request: req", "request: body");
        check(&renamed, "build").expect("record names are not part of the type");
    }

    #[test]
    fn a_different_parameter_type_names_both_signatures() {
        let wrong = CONTRACT.replace("build: func(request: req)", "build: func(request: string)");
        let m = check(&wrong, "build").expect_err("string is not a record");
        assert_eq!(m.found, "func(request: string) -> result<u64, err>");
        assert_eq!(
            m.expected.as_deref(),
            Some("func(request: req) -> result<u64, err>")
        );
        assert_eq!(m.detail, None, "the signatures show the difference");
    }

    #[test]
    fn a_difference_inside_a_named_type_is_pointed_at() {
        let wrong = CONTRACT.replace("target: option<string>", "target: string");
        let m = check(&wrong, "build").expect_err("a field's type differs");
        assert_eq!(
            m.detail.as_deref(),
            Some(
                "parameter `request`: field `target` of record `req`: `string` here, \
                 `option<string>` in the contract"
            )
        );
        let wrong = CONTRACT.replace("down(string), other", "down(string)");
        let m = check(&wrong, "build").expect_err("a case is missing");
        assert_eq!(
            m.detail.as_deref(),
            Some("result: variant `err` has cases down here, down, other in the contract")
        );
        let wrong = CONTRACT.replace("c: borrow<creds>", "c: creds");
        let m = check(&wrong, "push").expect_err("own is not borrow");
        assert_eq!(m.found, "func(c: creds)");
        assert_eq!(m.expected.as_deref(), Some("func(c: borrow<creds>)"));
    }
}
