// Copy buttons on the admin console. The page works without this file; it only adds the buttons' action.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent.trim();
  const done = () => { const label = button.textContent; button.textContent = "Copied"; setTimeout(() => { button.textContent = label; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => { button.textContent = "Select and copy"; });
  } else {
    const range = document.createRange(); range.selectNodeContents(document.getElementById(button.dataset.copy));
    const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
    button.textContent = document.execCommand("copy") ? "Copied" : "Press Ctrl+C";
  }
});
