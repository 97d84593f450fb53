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

// Operator signatures (Ed25519, WebCrypto): the operator picks their private key file; this
// script reads it, signs the bytes the page shows and puts the signature in the form. The key
// stays in this page's memory: the file field has no name, so it is never submitted.
function pemBody(text) {
  if (text.includes("ENCRYPTED PRIVATE KEY")) {
    throw new Error("this key file is protected by a passphrase: sign with `strongroom operator sign` instead");
  }
  const found = text.match(/-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/);
  if (!found) {
    throw new Error("not a PEM private key file");
  }
  return Uint8Array.from(atob(found[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
}

async function signWithFile(signer) {
  const status = signer.querySelector("[role=status]");
  const file = signer.querySelector("input[type=file]").files[0];
  const target = document.getElementById(signer.dataset.signTarget);
  try {
    if (!file) {
      throw new Error("choose your private key file first");
    }
    const key = await crypto.subtle.importKey(
      "pkcs8", pemBody(await file.text()), { name: "Ed25519" }, false, ["sign"]);
    const bytes = Uint8Array.from(atob(signer.dataset.signBytes), (c) => c.charCodeAt(0));
    const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, bytes));
    target.value = btoa(String.fromCharCode(...signature));
    status.textContent = "Signed. The signature is in the field below; submit the form.";
    status.className = "hint ok";
  } catch (error) {
    status.textContent = "Not signed: " + (error.message || error.name);
    status.className = "hint error";
  }
}

// BYOK: wrap the key material file the user picks with the KMS's wrapping public key
// (RSA-OAEP, SHA-256); only the wrapped material goes into the form.
async function wrapWithFile(wrapper) {
  const status = wrapper.querySelector("[role=status]");
  const file = wrapper.querySelector("input[type=file]").files[0];
  const target = document.getElementById(wrapper.dataset.wrapTarget);
  try {
    if (!file) {
      throw new Error("choose your key material file first");
    }
    const spki = Uint8Array.from(atob(wrapper.dataset.wrapPublicKey), (c) => c.charCodeAt(0));
    const key = await crypto.subtle.importKey(
      "spki", spki, { name: "RSA-OAEP", hash: "SHA-256" }, false, ["encrypt"]);
    const wrapped = new Uint8Array(
      await crypto.subtle.encrypt({ name: "RSA-OAEP" }, key, await file.arrayBuffer()));
    target.value = btoa(String.fromCharCode(...wrapped));
    status.textContent = "Wrapped. Submit the form to import it.";
    status.className = "hint ok";
  } catch (error) {
    status.textContent = "Not wrapped: " + (error.message || error.name);
    status.className = "hint error";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (window.crypto && crypto.subtle) {
    for (const wrapper of document.querySelectorAll("[data-wrap-public-key]")) {
      wrapper.hidden = false;
      wrapper.querySelector(".wrap-button").addEventListener("click", () => wrapWithFile(wrapper));
    }
  }
  if (window.crypto && crypto.subtle) {
    for (const signer of document.querySelectorAll("[data-sign-bytes]")) {
      signer.hidden = false;
      signer.querySelector(".sign-button").addEventListener("click", () => signWithFile(signer));
    }
  }
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
