import Foundation
import SAM2

/// Installs the libraries scripts see: `sam2`, `metrics`, `synth`, `plot` and `workbench`.
public enum Bindings {
    /// Names of the global libraries (for completion and docs).
    public static let libraries = ["sam2", "metrics", "synth", "plot", "workbench"]

    static func install(into state: LuaState) throws {
        ImageBindings.install(into: state)
        TensorBindings.install(into: state)
        ModelBindings.install(into: state)
        VideoBindings.install(into: state)
        ProgressBindings.install(into: state)
        state.setLibrary("sam2", [
            ("load", ModelBindings.load),
            ("image", ImageBindings.image),
            ("mask", ImageBindings.mask),
            ("tensor", TensorBindings.tensor),
            ("npy", TensorBindings.npy),
            ("components", ModelBindings.components),
            ("video", VideoBindings.video),
            ("register", RegisterBindings.register),
            ("train", TrainingBindings.train),
        ])
        state.setLibrary("metrics", [
            ("jf", MetricsBindings.jf),
            ("evaluate", MetricsBindings.evaluate),
            ("interactive", InteractiveBindings.interactive),
            ("clicks", PromptSimulationBindings.clicks),
            ("box", PromptSimulationBindings.box),
        ])
        state.setLibrary("synth", [("generate", SynthBindings.generate)])
        state.setLibrary("plot", PlotBindings.members)
        state.setLibrary("workbench", [
            ("mkdir", { call in
                let path = try call.string(1)
                do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
                catch { throw BindingError.invalid("cannot create folder \(path): \(error.localizedDescription)") }
                return [.string(path)]
            }),
            ("live_objects", { _ in [.int(LuaObject.liveCount)] }),
            ("experiment", ExperimentBindings.experiment),
            ("interrupted", { _ in [.bool(ExperimentInterrupt.requested)] }),
            ("progress", ProgressBindings.progress),
        ])
        try state.execute(prelude, chunkName: "=workbench.prelude", arguments: [state.projectRoot ?? ""])
    }

    /// Lua half of the `workbench` library: the pretty printer the REPL uses.
    static let prelude = #"""
    local workbench = require "workbench"
    workbench.root = ...

    local function number(v)
      if math.type(v) == "integer" then return tostring(v) end
      local s = string.format("%.6g", v)
      if not s:find("[%.eEn]") then s = s .. ".0" end
      return s
    end

    local function order(a, b)
      local ta, tb = type(a), type(b)
      if ta ~= tb then return ta < tb end
      if ta == "string" or ta == "number" then return a < b end
      return tostring(a) < tostring(b)
    end

    local limit = 50
    local function fmt(v, indent, seen)
      local t = type(v)
      if t == "string" then return string.format("%q", v) end
      if t == "number" then return number(v) end
      if t ~= "table" then return tostring(v) end
      local mt = getmetatable(v)
      if type(mt) == "table" and rawget(mt, "__tostring") then return tostring(v) end
      if seen[v] then return "<cycle>" end
      seen[v] = true
      local n, items = rawlen(v), {}
      for i = 1, math.min(n, limit) do items[#items + 1] = fmt(rawget(v, i), indent .. "  ", seen) end
      if n > limit then items[#items + 1] = string.format("… (%d more)", n - limit) end
      local keys = {}
      for k in next, v do
        if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
      end
      table.sort(keys, order)
      for i, k in ipairs(keys) do
        if i > limit then items[#items + 1] = string.format("… (%d more fields)", #keys - limit); break end
        local name = (type(k) == "string" and k:match("^[%a_][%w_]*$")) and k or ("[" .. fmt(k, indent, {}) .. "]")
        items[#items + 1] = name .. " = " .. fmt(rawget(v, k), indent .. "  ", seen)
      end
      seen[v] = nil
      if #items == 0 then return "{}" end
      local line = "{" .. table.concat(items, ", ") .. "}"
      if #line + #indent <= 100 and not line:find("\n") then return line end
      return "{\n" .. indent .. "  " .. table.concat(items, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
    end

    --- A readable rendering of any value: tables nested and sorted, masks as size/area/bbox/score,
    --- tensors as shape and the first values.
    function workbench.pretty(v) return fmt(v, "", {}) end

    --- Prints each argument with workbench.pretty.
    function workbench.show(...)
      local n = select("#", ...)
      local out = {}
      for i = 1, n do out[i] = fmt((select(i, ...)), "", {}) end
      print(table.concat(out, "\t"))
    end
    """#
}
