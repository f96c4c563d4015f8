-- respd's script environment, Redis 7.0's sandbox (script_lua.c, eval.c) written in Lua. Runs
-- once per engine with the real globals R (standard libraries loaded, debug among them) and the
-- table I through which Rust lends what only it can do (I.in_run, I.rand, ...). Returns the
-- globals scripts see: G, a read-only view of R. Stock Lua 5.1 has no read-only tables (Redis
-- patches its Lua), so views with a __newindex that refuses stand in for them.
local R, I = ...
local getinfo = debug.getinfo
local type, tostring, tonumber, error, select = type, tostring, tonumber, error, select
local rawget, rawset, setmetatable, xpcall, rawpcall = rawget, rawset, setmetatable, xpcall, pcall
local floor, ceil, ssub, sfind, sgsub = math.floor, math.ceil, string.sub, string.find, string.gsub
local INTERNAL = "=respd"

-- What Redis does not load or removes after start.
R.debug, R.print, R.dofile, R.loadfile = nil, nil, nil, nil
R.require, R.module, R.package, R.os, R.io = nil, nil, nil, nil, nil

local protected = {}
local function readonly()
  error("Attempt to modify a readonly table", 2)
end
local function view(t)
  local v = setmetatable({}, { __index = t, __newindex = readonly })
  protected[v] = true
  return v
end

-- Errors as Redis's `luaPushError` builds them: a table whose `err` is "CODE message".
local function err_table(s)
  local code, msg = "ERR", s
  if ssub(s, 1, 1) == "-" then
    local sp = sfind(s, " ", 1, true)
    if sp then
      code, msg = ssub(s, 2, sp - 1), ssub(s, sp + 1)
    else
      msg = ssub(s, 2)
    end
  end
  msg = sgsub(sgsub(msg, "^[\r\n]+", ""), "[\r\n]+$", "")
  return { err = code .. " " .. msg }
end
I.err_table = err_table

local function in_run(what)
  if not I.in_run() then
    error(err_table(what .. " can only be called inside a script invocation"))
  end
end

-- The message handler of every run (Redis's __redis__err__handler): where the error happened,
-- passing over C functions and this file.
function I.errh(e)
  if type(e) == "userdata" then
    e = I.unwrap_err(e)
  end
  local lvl = 2
  local i = getinfo(lvl, "Sl")
  while i and (i.what == "C" or i.source == INTERNAL) do
    lvl = lvl + 1
    i = getinfo(lvl, "Sl")
  end
  if type(e) ~= "table" then
    e = { err = "ERR " .. tostring(e) }
  end
  if i then
    e.source = i.source
    e.line = i.currentline
  end
  return e
end

function I.run(f)
  return xpcall(f, I.errh)
end

-- The redis table. `redis.call` and `redis.pcall` are Rust functions (C functions to Lua, so
-- `return redis.call(...)` keeps the script's frame for error positions), set by the engine;
-- between runs they refuse.
local redis = {}
I.redis = redis
function redis.error_reply(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return err_table("wrong number or type of arguments")
  end
  if ssub(s, 1, 1) ~= "-" then
    s = "-" .. s
  end
  return err_table(s)
end
function redis.status_reply(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return err_table("wrong number or type of arguments")
  end
  return { ok = s }
end
function redis.sha1hex(...)
  if select("#", ...) ~= 1 then
    error(err_table("wrong number of arguments"))
  end
  local s = ...
  if type(s) == "number" then
    s = tostring(s)
  elseif type(s) ~= "string" then
    s = ""
  end
  return I.sha1hex(s)
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
function redis.log(...)
  local n = select("#", ...)
  if n < 2 then
    error(err_table("redis.log() requires two arguments or more."))
  end
  local level = tonumber((...))
  if not level then
    error(err_table("First argument must be a number (log level)."))
  end
  level = level >= 0 and floor(level) or ceil(level)
  if level < 0 or level > 3 then
    error(err_table("Invalid debug level."))
  end
  local parts = {}
  for j = 2, n do
    local s = select(j, ...)
    if type(s) == "string" or type(s) == "number" then
      if j ~= 2 then
        parts[#parts + 1] = " "
      end
      parts[#parts + 1] = tostring(s)
    end
  end
  I.log(level, table.concat(parts))
end
function redis.setresp(...)
  in_run("redis.setresp")
  if select("#", ...) ~= 1 then
    error(err_table("redis.setresp() requires one argument."))
  end
  local v = tonumber((...)) or 0
  v = v >= 0 and floor(v) or ceil(v)
  if v ~= 2 and v ~= 3 then
    error(err_table("RESP version must be 2 or 3."))
  end
  I.setresp(v)
end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
function redis.set_repl(...)
  in_run("redis.set_repl")
  if select("#", ...) ~= 1 then
    error(err_table("redis.set_repl() requires two arguments."))
  end
  local v = tonumber((...)) or 0
  v = v >= 0 and floor(v) or ceil(v)
  if v < 0 or v > 3 then
    error(err_table("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."))
  end
end
function redis.replicate_commands()
  return true
end
function redis.breakpoint()
  return false
end
function redis.debug() end
function redis.acl_check_cmd(...)
  in_run("redis.acl_check_cmd")
  local r = I.acl_check(...)
  if r == 0 then
    error(err_table("Please specify at least one argument for this redis lib call"))
  elseif r == 2 then
    error(err_table("Invalid command passed to redis.acl_check_cmd()"))
  end
  return true
end
redis.REDIS_VERSION = I.version
redis.REDIS_VERSION_NUM = I.version_num

-- math.random and math.randomseed on Redis's own lrand48, the same sequence on every platform.
local function checkint(v, n, fname)
  local x = tonumber(v)
  if x == nil then
    error("bad argument #" .. n .. " to '" .. fname .. "' (number expected, got " .. (v == nil and "no value" or type(v)) .. ")", 3)
  end
  return x >= 0 and floor(x) or ceil(x)
end
local MAX = 2147483647
math.random = function(...)
  in_run("math.random")
  local r = (I.rand() % MAX) / MAX
  local n = select("#", ...)
  if n == 0 then
    return r
  elseif n == 1 then
    local u = checkint((...), 1, "random")
    if u < 1 then
      error("bad argument #1 to 'random' (interval is empty)", 2)
    end
    return floor(r * u) + 1
  elseif n == 2 then
    local l, u = ...
    l, u = checkint(l, 1, "random"), checkint(u, 2, "random")
    if l > u then
      error("bad argument #2 to 'random' (interval is empty)", 2)
    end
    return floor(r * (u - l + 1)) + l
  end
  error("wrong number of arguments", 2)
end
math.randomseed = function(s)
  in_run("math.randomseed")
  I.srand(checkint(s, 1, "randomseed"))
end

-- Redis's pcall: an error table from redis.call comes back as its message.
local function unwrap(ok, ...)
  if ok then
    return ok, ...
  end
  local e = ...
  if type(e) == "userdata" then
    e = I.unwrap_err(e)
  end
  if type(e) == "table" then
    local m = rawget(e, "err")
    if type(m) == "string" or type(m) == "number" then
      e = m
    end
  end
  return false, e
end
R.pcall = function(...)
  return unwrap(rawpcall(...))
end
R.rawset = function(t, k, v)
  if protected[t] then
    error("Attempt to modify a readonly table", 0)
  end
  return rawset(t, k, v)
end

for _, name in ipairs({ "string", "math", "table", "coroutine" }) do
  R[name] = view(R[name])
end
for name, lib in pairs(I.libs or {}) do
  R[name] = view(lib)
end
R.redis = view(redis)

local G = view(R)
R._G = G
-- Reading a global nobody set is an error, not nil.
setmetatable(R, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
})
-- Functions (FUNCTION LOAD, FCALL), as Redis 7.0's function_lua.c. A library's code runs with
-- globals that hold only `redis` with register_function, log and the version (Redis's
-- LIBRARY_API); the functions it registers keep that environment, which at run time shows the
-- globals scripts see, without KEYS and ARGV (a function gets them as arguments).
local function nonexistent(k)
  return "Script attempted to access nonexistent global variable '" .. tostring(k) .. "'"
end
local libredis = {
  log = redis.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = I.version, REDIS_VERSION_NUM = I.version_num,
}
local FLAG_BITS = { ["no-writes"] = 1, ["allow-oom"] = 2, ["allow-stale"] = 4, ["no-cluster"] = 8,
  ["allow-cross-slot-keys"] = 16 }
local slower, next = string.lower, next
local registered, seen -- what FUNCTION LOAD collects; nil otherwise
local function reg_fail(msg)
  error(err_table(msg))
end
local function is_str(v)
  local t = type(v)
  return t == "string" or t == "number"
end
function libredis.register_function(...)
  if not registered then
    reg_fail("redis.register_function can only be called on FUNCTION LOAD command")
  end
  local n = select("#", ...)
  if n < 1 or n > 2 then
    reg_fail("wrong number of arguments to redis.register_function")
  end
  local name, cb, desc, flags = nil, nil, nil, 0
  if n == 1 then
    local t = ...
    if type(t) ~= "table" then
      reg_fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
    end
    for k, v in next, t do
      if not is_str(k) then
        reg_fail("named argument key given to redis.register_function is not a string")
      end
      local key = slower(tostring(k))
      if key == "function_name" then
        if not is_str(v) then
          reg_fail("function_name argument given to redis.register_function must be a string")
        end
        name = tostring(v)
      elseif key == "description" then
        if not is_str(v) then
          reg_fail("description argument given to redis.register_function must be a string")
        end
        desc = tostring(v)
      elseif key == "callback" then
        if type(v) ~= "function" then
          reg_fail("callback argument given to redis.register_function must be a function")
        end
        cb = v
      elseif key == "flags" then
        if type(v) ~= "table" then
          reg_fail("flags argument to redis.register_function must be a table representing function flags")
        end
        local j = 1
        while true do
          local f = v[j]
          if f == nil then
            break
          end
          local bit = is_str(f) and FLAG_BITS[slower(tostring(f))]
          if not bit then
            reg_fail("unknown flag given")
          end
          if flags % (2 * bit) < bit then
            flags = flags + bit
          end
          j = j + 1
        end
      else
        reg_fail("unknown argument given to redis.register_function")
      end
    end
    if not name then
      reg_fail("redis.register_function must get a function name argument")
    end
    if not cb then
      reg_fail("redis.register_function must get a callback argument")
    end
  else
    local a, b = ...
    if not is_str(a) then
      reg_fail("first argument to redis.register_function must be a string")
    end
    if type(b) ~= "function" then
      reg_fail("second argument to redis.register_function must be a function")
    end
    name, cb = tostring(a), b
  end
  if #name == 0 or sfind(name, "[^%w_]") then
    reg_fail("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
  end
  if seen[name] then
    reg_fail("Function already exists in the library")
  end
  seen[name] = true
  registered[#registered + 1] = { name, desc or false, flags, cb }
end
local libredis_view = setmetatable({}, {
  __index = function(_, k)
    local v = libredis[k]
    if v == nil then
      error(nonexistent(k), 2)
    end
    return v
  end,
  __newindex = readonly,
})
protected[libredis_view] = true
local loading = false
local FENV = setmetatable({}, {
  __index = function(_, k)
    local v
    if loading then
      if k == "redis" then
        v = libredis_view
      end
    elseif k ~= "KEYS" and k ~= "ARGV" then
      v = rawget(R, k)
    end
    if v == nil then
      error(nonexistent(k), 2)
    end
    return v
  end,
  __newindex = readonly,
})
protected[FENV] = true

-- Runs a library's code: true and the functions it registered ({name, desc or false, flags,
-- callback} each), or false and Redis's error text.
function I.load_lib(f)
  setfenv(f, FENV)
  registered, seen, loading = {}, {}, true
  local ok, e = rawpcall(f)
  local list = registered
  registered, seen, loading = nil, nil, false
  if ok then
    return true, list
  end
  if type(e) == "userdata" then
    e = I.unwrap_err(e)
  end
  if type(e) == "table" and type(rawget(e, "err")) == "string" then
    return false, rawget(e, "err")
  end
  return false, "ERR " .. tostring(e)
end

-- One FCALL: the function gets KEYS and ARGV as its arguments.
function I.runf(f, k, a)
  return xpcall(function()
    return f(k, a)
  end, I.errh)
end

return G
