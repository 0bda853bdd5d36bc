// Sets the theme before the first paint, so a dark page never flashes light: the
// user's remembered pick, else the system's. A classic script in <head>, because
// modules run only after parsing. app.js follows the system while nothing is picked.
(function () {
  var pick = null;
  try {
    pick = localStorage.getItem('skiff-theme');
  } catch (e) { /* storage may be off */ }
  if (pick !== 'dark' && pick !== 'light') pick = matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  document.documentElement.dataset.theme = pick;
})();
