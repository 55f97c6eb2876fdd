// Every call goes to the /v1 API with the session cookie; unsafe methods carry the CSRF token.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `the server answered ${status}`);
    this.status = status;
    this.code = error.code;
    this.details = error.details;
  }
}

export function cookie(name) {
  const match = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
  return match ? decodeURIComponent(match.slice(name.length + 1)) : "";
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("codehook_csrf");
  const response = await fetch("/v1" + path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign("/ui/login");
    throw new ApiError(401, { error: { message: "the session ended; log in again" } });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => api("GET", path);

export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined);
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}
