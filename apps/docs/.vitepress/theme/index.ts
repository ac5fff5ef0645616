import type { Theme } from 'vitepress';
import DefaultTheme from 'vitepress/theme';
import LiveCode from './live-code';
import './style.css';

const theme: Theme = {
  extends: DefaultTheme,
  enhanceApp({ app }) {
    app.component('LiveCode', LiveCode);
  },
};

export default theme;
