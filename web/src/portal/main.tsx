import { render } from 'preact';
import { PortalApp } from './PortalApp';
import '../styles.css';

render(<PortalApp />, document.getElementById('app')!);
