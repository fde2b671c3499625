// Small progressive enhancements; every page works without this script.
document.addEventListener('DOMContentLoaded', () => {
  // The department switcher submits as soon as a department is picked.
  document.querySelectorAll('select[data-autosubmit]').forEach((select) => {
    select.addEventListener('change', () => select.form.submit());
  });
  // The printable documents' 打印 button (the browser's own print works as well).
  document.querySelectorAll('[data-print]').forEach((button) => {
    button.addEventListener('click', () => window.print());
  });
  // Destructive actions ask first.
  document.querySelectorAll('form[data-confirm]').forEach((form) => {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // Item rows: clearing a row removes it on save (rows with neither name nor code are not saved).
  const clearRow = (button) => {
    button.addEventListener('click', () => {
      const row = button.closest('tr');
      row.querySelectorAll('input').forEach((input) => { input.value = ''; input.classList.remove('invalid'); });
    });
  };
  document.querySelectorAll('[data-clear-row]').forEach(clearRow);
  // Adding a row copies the last one with the next index and empty values.
  document.querySelectorAll('[data-add-row]').forEach((button) => {
    button.addEventListener('click', () => {
      const body = document.querySelector(button.dataset.addRow);
      const last = body.querySelector('tr:last-child');
      if (!last) return;
      const index = body.querySelectorAll('tr').length;
      const row = last.cloneNode(true);
      row.querySelectorAll('input, select').forEach((field) => {
        field.name = field.name.replace(/_\d+$/, `_${index}`);
        const label = field.getAttribute('aria-label');
        if (label) field.setAttribute('aria-label', label.replace(/\d+/, String(index + 1)));
        field.classList.remove('invalid');
        if (field.tagName === 'INPUT') field.value = '';
      });
      row.querySelector('td').textContent = String(index + 1);
      row.querySelectorAll('[data-clear-row]').forEach(clearRow);
      body.appendChild(row);
      row.querySelector('input').focus();
    });
  });
});
