//! Host-side bindings generated from `skills/wit/skill.wit`, the one
//! interface shared with the guests' SDK.

wasmtime::component::bindgen!({
    world: "skill",
    path: "../../skills/wit",
    // Host functions return `wasmtime::Result` so that an ungranted
    // capability can end the call with a typed error.
    imports: { default: trappable },
});
