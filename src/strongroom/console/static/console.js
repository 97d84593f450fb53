// Strongroom console: the only script. Pages work without it; it adds live checks.
"use strict";

// The key policy editor: says whether the text is valid JSON while you type, and keeps an
// invalid document from being sent. The KMS still checks everything (grammar, principals,
// the lockout safety check) when the form is saved.
function checkPolicy(textarea, status) {
  try {
    const doc = JSON.parse(textarea.value);
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
      throw new Error("a policy is a JSON object");
    }
    if (!("Statement" in doc)) {
      throw new Error("the policy has no Statement");
    }
    textarea.removeAttribute("aria-invalid");
    status.textContent = "Valid JSON. The KMS checks the policy itself when you save it.";
    status.className = "hint ok";
    return true;
  } catch (error) {
    textarea.setAttribute("aria-invalid", "true");
    status.textContent = "Not a valid policy document: " + error.message;
    status.className = "hint error";
    return false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-policy-editor]")) {
    const textarea = form.querySelector("textarea");
    const status = form.querySelector("[role=status]");
    textarea.addEventListener("input", () => checkPolicy(textarea, status));
    form.addEventListener("submit", (event) => {
      if (!checkPolicy(textarea, status)) {
        event.preventDefault();
        textarea.focus();
      }
    });
  }
  const alert = document.querySelector("#action-error, #create-error, #sign-in-error");
  if (alert) {
    alert.setAttribute("tabindex", "-1");
    alert.focus();
  }
});
