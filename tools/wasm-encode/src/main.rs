//! `wasm-encode CORE.wasm OUT.wasm`: wraps a core module (with wit-bindgen's component-type
//! custom section) into a component, dropping the imports the module never calls.
//! `wasm-encode --imports COMPONENT.wasm`: prints the component's world imports and exports,
//! one per line (`import forge:plugin/files@0.1.0`), to check which capabilities it asks for.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, component] if flag == "--imports" => imports(component),
        [core, out] => encode(core, out),
        _ => Err(
            "usage: wasm-encode CORE.wasm OUT.wasm | wasm-encode --imports COMPONENT.wasm"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasm-encode: {e}");
            ExitCode::FAILURE
        }
    }
}

fn encode(core: &str, out: &str) -> Result<(), String> {
    let bytes = std::fs::read(core).map_err(|e| format!("reading {core}: {e}"))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|enc| enc.validate(true).encode())
        .map_err(|e| format!("encoding {core}: {e:#}"))?;
    // Write to a sibling temp file then rename, so a reader never sees half a component.
    let tmp = format!("{out}.tmp");
    std::fs::write(&tmp, &component).map_err(|e| format!("writing {tmp}: {e}"))?;
    std::fs::rename(&tmp, out).map_err(|e| format!("renaming {tmp} to {out}: {e}"))
}

fn imports(path: &str) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))?;
    let decoded = wit_component::decode(&bytes).map_err(|e| format!("decoding {path}: {e:#}"))?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err(format!("{path} is a WIT package, not a component"));
    };
    let world = &resolve.worlds[world];
    let mut lines = Vec::new();
    for (dir, items) in [("import", &world.imports), ("export", &world.exports)] {
        for (key, item) in items.iter() {
            let kind = match item {
                wit_parser::WorldItem::Interface { .. } => "interface",
                wit_parser::WorldItem::Function(_) => "func",
                wit_parser::WorldItem::Type { .. } => "type",
            };
            lines.push(format!("{dir} {kind} {}", resolve.name_world_key(key)));
        }
    }
    lines.sort();
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
