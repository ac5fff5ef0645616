import type { Theme } from 'vitepress';
import DefaultTheme from 'vitepress/theme';
import FineTuneDemo from './fine-tune-demo';
import LiveCode from './live-code';
import './style.css';

const theme: Theme = {
  extends: DefaultTheme,
  enhanceApp({ app }) {
    app.component('LiveCode', LiveCode);
    app.component('FineTuneDemo', FineTuneDemo);
  },
};

export default theme;
