// The sign-in form: a real form, so that Enter submits and password
// managers recognise it.
import {signIn} from "./api.js";
import {h} from "./dom.js";

export function renderLogin(main, onSignedIn) {
  const error = h("p", {class: "error", role: "alert", id: "login-error", hidden: true});
  const user = h("input", {id: "login-user", name: "username", autocomplete: "username",
                           required: true, autocapitalize: "none", spellcheck: "false"});
  const password = h("input", {id: "login-password", name: "password", type: "password",
                               autocomplete: "current-password", required: true});
  const button = h("button", {type: "submit", id: "login-submit"}, "Sign in");
  const form = h("form", {class: "card login", "aria-labelledby": "login-title"},
    h("h1", {id: "login-title"}, "Sign in to sluice"),
    h("label", {for: "login-user"}, "User"), user,
    h("label", {for: "login-password"}, "Password"), password,
    error, button);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    error.hidden = true;
    try {
      const s = await signIn(user.value, password.value);
      onSignedIn(s);
    } catch (e) {
      error.textContent = e.status === 401 ? "Wrong user name or password." : e.message;
      error.hidden = false;
      password.value = "";
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  main.replaceChildren(form);
  user.focus();
}
