// Small progressive enhancements; every page works without this script.
document.addEventListener('DOMContentLoaded', () => {
  // The department switcher submits as soon as a department is picked.
  document.querySelectorAll('select[data-autosubmit]').forEach((select) => {
    select.addEventListener('change', () => select.form.submit());
  });
  // Destructive actions ask first.
  document.querySelectorAll('form[data-confirm]').forEach((form) => {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
